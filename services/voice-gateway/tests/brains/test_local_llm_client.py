from voice_gateway.brains.local import ClosableOpenAILLM


async def test_the_client_a_session_closes_is_the_one_pipecat_uses() -> None:
    llm = ClosableOpenAILLM(
        base_url="http://127.0.0.1:9/v1",
        api_key="none",
        settings=ClosableOpenAILLM.Settings(model="local"),
    )
    # Canary: Pipecat 1.14 makes its client through the create_client hook; if an upgrade
    # stopped doing so, the sessions would close a client nobody uses and leak the real one.
    assert llm.openai_client is llm._client
    await llm.openai_client.close()
    assert llm.openai_client.is_closed()
