/** Small stroke icons (decorative: the buttons carry the text). */
const common = {
  width: 18,
  height: 18,
  viewBox: "0 0 24 24",
  fill: "none",
  stroke: "currentColor",
  strokeWidth: 2,
  strokeLinecap: "round" as const,
  strokeLinejoin: "round" as const,
  "aria-hidden": true,
  focusable: false,
};

export function MicIcon({ off }: { off: boolean }) {
  return (
    <svg {...common}>
      <rect x="9" y="3" width="6" height="11" rx="3" />
      <path d="M5 11a7 7 0 0 0 14 0M12 18v3" />
      {off && <path d="M3 3l18 18" />}
    </svg>
  );
}

export function SpeakerIcon({ off }: { off: boolean }) {
  return (
    <svg {...common}>
      <path d="M4 9h4l5-4v14l-5-4H4z" />
      {off ? <path d="M17 9l5 6M22 9l-5 6" /> : <path d="M16.5 8.5a5 5 0 0 1 0 7M19 6a8.5 8.5 0 0 1 0 12" />}
    </svg>
  );
}

export function PowerIcon({ running }: { running: boolean }) {
  return <svg {...common}>{running ? <rect x="6" y="6" width="12" height="12" rx="2" /> : <circle cx="12" cy="12" r="6" />}</svg>;
}
