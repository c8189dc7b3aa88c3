import { BrowserRouter, Link, Route, Routes } from "react-router-dom";
import { SettingsDialog } from "./components/SettingsDialog";
import { ConversationList } from "./pages/ConversationList";
import { HistoryPage } from "./pages/HistoryPage";
import { VoicePage } from "./pages/VoicePage";

export function App() {
  return (
    <BrowserRouter>
      <a className="skip-link" href="#content">
        Skip to content
      </a>
      <header className="app-bar">
        <Link to="/" className="brand">
          <span className="logo" aria-hidden="true" />
          agentic-voice
        </Link>
        <nav aria-label="Main">
          <Link to="/" className="nav-list">
            Conversations
          </Link>
          <SettingsDialog />
        </nav>
      </header>
      <div id="content">
        <Routes>
          <Route path="/" element={<ConversationList />} />
          <Route path="/voice/:conversationId" element={<VoicePage />} />
          <Route path="/history/:conversationId" element={<HistoryPage />} />
          <Route
            path="*"
            element={
              <main className="page">
                <h1>Not found</h1>
                <p>
                  <Link to="/">Back to conversations</Link>
                </p>
              </main>
            }
          />
        </Routes>
      </div>
    </BrowserRouter>
  );
}
