"""An update answers with the assistant as that update left it, even with other updates landing at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.server.httputil import api


def test_each_of_many_concurrent_updates_answers_with_its_own_write(local_server):
    with api(local_server) as http:
        made = http.post("/assistants", json={"name": "Twin", "model": "gpt-5", "instructions": "v0"}).json()

        def put(index: int) -> str:
            with api(local_server) as own:
                answer = own.put(f"/assistants/{made['id']}", json={"instructions": f"write {index}"})
                return answer.json()["instructions"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(put, range(40)))
    assert answers == [f"write {i}" for i in range(40)]
