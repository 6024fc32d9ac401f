import asyncio, websockets, json, time
import os, sys

async def load_test():
    uri = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WS_URL", "ws://127.0.0.1:8080/ws")
    async with websockets.connect(uri) as ws:
        start = time.time()
        for i in range(1000):
            await ws.send(json.dumps({
                "type": "chat.message",
                "payload": {"text": f"Test {i}", "agent_id": "anima"}
            }))
        elapsed = time.time() - start
        print(f"Sent 1000 msgs in {elapsed:.2f}s")

asyncio.run(load_test())
