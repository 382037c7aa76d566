"""JSON batching: POST /$batch with up to 20 parts, dependsOn, per-part status."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from .call import Call, Reply
from .errors import GraphError

if TYPE_CHECKING:
    from .app import Gateway

MAX_PARTS = 20


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


class Batch:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def parse(self, call: Call) -> list[dict[str, Any]]:
        if call.method != "POST":
            raise _bad("$batch takes POST only.")
        parts = (call.body or {}).get("requests") if isinstance(call.body, dict) else None
        if not isinstance(parts, list) or not parts:
            raise _bad("Invalid batch payload format: 'requests' must be a non-empty array.")
        if len(parts) > MAX_PARTS:
            raise _bad(f"The number of batch requests ({len(parts)}) exceeds the limit of 20.")
        seen: set[str] = set()
        for part in parts:
            if not isinstance(part, dict) or not all(k in part for k in ("id", "method", "url")):
                raise _bad("Each batch request needs id, method and url.")
            pid = str(part["id"])
            if pid in seen:
                raise _bad(f"Batch request id '{pid}' is not unique.")
            seen.add(pid)
            headers = {k.lower(): v for k, v in (part.get("headers") or {}).items()}
            if part.get("body") is not None and "content-type" not in headers:
                raise _bad(f"Write request id : {pid} does not contain Content-Type header.")
            deps = part.get("dependsOn") or []
            if not isinstance(deps, list) or any(str(d) not in seen - {pid} for d in deps):
                raise _bad(f"Batch request '{pid}' depends on an unknown or later request.")
            if str(part["url"]).lower().startswith(("http:", "https:")):
                raise _bad(f"Batch request '{pid}' must use a relative url.")
        return parts

    def part_call(self, outer: Call, part: dict[str, Any]) -> Call:
        headers: CIMultiDict[str] = CIMultiDict(
            {k: str(v) for k, v in (part.get("headers") or {}).items()}
        )
        if "Authorization" in outer.headers:
            headers["Authorization"] = outer.headers["Authorization"]
        url = "/" + str(part["url"]).lstrip("/")
        return Call.from_url(str(part["method"]), url, headers, part.get("body"))

    async def run(self, call: Call) -> Reply:
        parts = self.parse(call)
        results: dict[str, dict[str, Any]] = {}
        pending = list(parts)
        while pending:
            wave = [p for p in pending if all(str(d) in results for d in p.get("dependsOn") or [])]
            pending = [p for p in pending if p not in wave]
            await self.run_wave(call, wave, results)
        return Reply(200, {"responses": [results[str(p["id"])] for p in parts]})

    async def run_wave(
        self, outer: Call, wave: list[dict[str, Any]], results: dict[str, dict[str, Any]]
    ) -> None:
        """Parts with no open dependencies run side by side: each takes a mailbox slot."""
        throttle = self.gateway.g.throttle
        held: list[tuple[dict[str, Any], Call, str | None]] = []
        for part in wave:
            pid = str(part["id"])
            failed = [d for d in part.get("dependsOn") or [] if results[str(d)]["status"] >= 400]
            if failed:
                error = GraphError(424, "FailedDependency", "A request it depends on failed.")
                results[pid] = self.answer(pid, Reply(424, error.body()))
                continue
            part_call = self.part_call(outer, part)
            part_call.grant = outer.grant
            upn = self.gateway.mailbox_key(part_call)
            if upn is not None:
                try:
                    throttle.acquire(upn, outer.grant.client_id if outer.grant else "")
                except GraphError as exc:
                    self.gateway.record(part_call, exc.status, True)
                    results[pid] = self.answer(pid, Reply(exc.status, exc.body(), exc.headers))
                    continue
            held.append((part, part_call, upn))
        try:
            replies = await asyncio.gather(
                *(self.gateway.execute(c, in_batch=True, slot=False) for _, c, _ in held)
            )
        finally:
            for _, _, upn in held:
                if upn is not None:
                    throttle.release(upn)
        for (part, _, _), reply in zip(held, replies, strict=True):
            results[str(part["id"])] = self.answer(str(part["id"]), reply)

    @staticmethod
    def answer(pid: str, reply: Reply) -> dict[str, Any]:
        headers = dict(reply.headers)
        if reply.body is not None:
            headers.setdefault("Content-Type", "application/json")
        out: dict[str, Any] = {"id": pid, "status": reply.status, "headers": headers}
        if reply.body is not None:
            out["body"] = reply.body
        return out
