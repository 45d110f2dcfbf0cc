"""OKX twin WebSockets: fixture shapes, books sequencing over thousands of updates (checksum 0 as OKX sends it
since 2026-06-23, or real CRC32s behind the switch), the snapshot switch, faults, heartbeat."""

from __future__ import annotations

import json
import time
import zlib
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from twin_helpers import json_shape, load_fixture

from simulator import okx_format as fmt
from simulator.faults import FaultKind
from simulator.okx import OkxConfig, okx_twin_factory
from simulator.okx_auth import sign
from simulator.runner import start_twins

pytestmark = pytest.mark.anyio
FACTORIES = {"okx": okx_twin_factory}


def _crc(bids: dict[str, str], asks: dict[str, str]) -> int:
    """Independent OKX checksum: top 25 of each side interleaved bid:ask, CRC32 as signed int32."""
    b = sorted(bids.items(), key=lambda kv: -Decimal(kv[0]))[:25]
    a = sorted(asks.items(), key=lambda kv: Decimal(kv[0]))[:25]
    parts: list[str] = []
    for i in range(25):
        parts += list(b[i]) if i < len(b) else []
        parts += list(a[i]) if i < len(a) else []
    v = zlib.crc32(":".join(parts).encode())
    return v - 2**32 if v >= 2**31 else v


class _LocalBook:
    """A client following the documented procedure: snapshot, then updates with prevSeqId == last seqId."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.seq = -1

    def apply(self, msg: dict[str, Any]) -> tuple[bool, bool]:
        """Returns (sequence ok, checksum ok by the pre-2026 CRC32 rule)."""
        row = msg["data"][0]
        if msg["action"] == "snapshot":
            self.bids = {p: s for p, s, *_ in row["bids"]}
            self.asks = {p: s for p, s, *_ in row["asks"]}
            seq_ok = row.get("prevSeqId", -1) == -1  # the 2022 capture predates seqId
        else:
            seq_ok = row.get("prevSeqId", self.seq) == self.seq
            for side, levels in ((self.bids, row["bids"]), (self.asks, row["asks"])):
                for p, s, *_ in levels:
                    if Decimal(s) == 0:
                        side.pop(p, None)
                    else:
                        side[p] = s
        self.seq = row.get("seqId", self.seq)
        return seq_ok, self.crc_ok(msg)

    def crc_ok(self, msg: dict[str, Any]) -> bool:
        return bool(_crc(self.bids, self.asks) == msg["data"][0]["checksum"])


def test_twin_checksum_reproduces_every_checksum_of_the_real_capture() -> None:
    msgs = [m for m in load_fixture("okx/ws_books_real_sequence_BTC-USDT.jsonl") if "action" in m]
    book = _LocalBook()
    for m in msgs:
        book.apply(m)
        b = sorted(book.bids.items(), key=lambda kv: -Decimal(kv[0]))
        a = sorted(book.asks.items(), key=lambda kv: Decimal(kv[0]))
        assert fmt.checksum([list(x) for x in b], [list(x) for x in a]) == m["data"][0]["checksum"]
    assert len(msgs) == 26


def test_checksum_matches_the_documented_strings_and_numbers_print_like_okx() -> None:
    assert fmt.checksum([["3366.1", "7"], ["3366", "6"]], [["3366.8", "9"], ["3368", "8"]]) == -1881014294
    assert fmt.checksum([["3366.1", "7"]], [["3366.8", "9"], ["3368", "8"], ["3372", "8"]]) == 831078360
    assert [fmt.num(Decimal(x)) for x in ("8477.0", "100", "0.00010", "0")] == ["8477", "100", "0.0001", "0"]


@pytest.mark.parametrize("real_checksum", [False, True], ids=["checksum-0", "real-crc"])
async def test_books_stream_keeps_sequence_and_checksums_and_ends_equal_to_the_twin_book(real_checksum: bool) -> None:
    """Checksum 0 on every push by default (OKX since 2026-06-23); the switch brings back real CRC32s."""
    opts = {"okx": {"config": OkxConfig(real_checksum=real_checksum)}}
    async with start_twins(["okx"], rate=0, factories=FACTORIES, options=opts) as twins, aiohttp.ClientSession() as s:
        rt = twins["okx"]
        insts = ("BTC-USDT-SWAP", "BTC-USD-SWAP")
        async with s.ws_connect(rt.ws["public"]) as ws:
            await ws.send_str(json.dumps({"id": "1", "op": "subscribe", "args": [{"channel": "books", "instId": i} for i in insts]}))
            books = {i: _LocalBook() for i in insts}
            counts = {i: 0 for i in insts}
            for _ in range(4):  # two acks, two snapshots, before the market moves
                msg = json.loads((await ws.receive(timeout=5)).data)
                if "event" in msg:
                    assert json_shape(msg) == json_shape(load_fixture("okx/ws_books_subscribe_ack.json"))
                    continue
                assert books[msg["arg"]["instId"]].apply(msg)[0] and len(msg["data"][0]["bids"]) >= 50
                assert books[msg["arg"]["instId"]].crc_ok(msg) if real_checksum else msg["data"][0]["checksum"] == 0
                assert json_shape(msg) == json_shape(load_fixture("okx/ws_books_snapshot.json"))
            steps = 2000
            for _ in range(steps // 100):
                twins.step(100)
                await anyio.lowlevel.checkpoint()
            while min(counts.values()) < steps:
                msg = json.loads((await ws.receive(timeout=5)).data)
                inst = msg["arg"]["instId"]
                seq_ok, crc_ok = books[inst].apply(msg)
                assert seq_ok and (crc_ok if real_checksum else msg["data"][0]["checksum"] == 0), (
                    inst, counts[inst], msg["data"][0]["seqId"])
                counts[inst] += 1
                if counts[inst] == 1:
                    assert json_shape(msg) == json_shape(load_fixture("okx/ws_books_update.json"))
            for inst in insts:
                async with s.get(f"{rt.rest}/__admin/book", params={"symbol": inst}) as r:
                    admin = await r.json()
                assert admin["update_id"] == books[inst].seq
                assert admin["bids"] == [list(x) for x in sorted(books[inst].bids.items(), key=lambda kv: -Decimal(kv[0]))]
                assert admin["asks"] == [list(x) for x in sorted(books[inst].asks.items(), key=lambda kv: Decimal(kv[0]))]


async def test_public_and_business_channels_have_the_fixture_shapes() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt = twins["okx"]
        want = {"books5": "ws_books5.json", "bbo-tbt": "ws_bbo_tbt.json", "trades": "ws_trades_push.json",
                "tickers": "ws_tickers_push.json", "candle1m": "ws_candle_push.json"}
        seen: dict[str, dict[str, Any]] = {}
        async with s.ws_connect(rt.ws["public"]) as pub, s.ws_connect(rt.ws["business"]) as bus:
            args = [{"channel": c, "instId": "BTC-USDT-SWAP"} for c in ("books5", "bbo-tbt", "trades", "tickers")]
            await pub.send_str(json.dumps({"op": "subscribe", "args": args}))
            await bus.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "candle1m", "instId": "BTC-USDT-SWAP"}]}))
            await pub.send_str(json.dumps({"id": "9", "op": "subscribe", "args": [{"channel": "candle1m", "instId": "BTC-USDT-SWAP"}]}))
            await pub.send_str(json.dumps({"id": "10", "op": "subscribe", "argss": []}))
            for _ in range(40):
                twins.step(5)
                await anyio.sleep(0.01)
                if set(want) | {"error:9", "error:10"} <= set(seen):
                    break
                for ws in (pub, bus):
                    while True:
                        try:
                            msg = json.loads((await ws.receive(timeout=0.05)).data)
                        except TimeoutError:
                            break
                        key = msg.get("arg", {}).get("channel") if "event" not in msg else f"{msg['event']}:{msg.get('id')}"
                        seen.setdefault(key, msg)
        for channel, fixture in want.items():
            assert json_shape(seen[channel]) == json_shape(load_fixture(f"okx/{fixture}")), channel
        assert seen["error:9"]["code"] == "60018" and seen["error:10"]["code"] == "60012"
        assert json_shape(seen["error:10"]) == json_shape(load_fixture("okx/ws_subscribe_error.json"))


async def test_private_login_errors_and_channels_before_login_are_refused() -> None:
    async with start_twins(["okx"], rate=0, factories=FACTORIES) as twins, aiohttp.ClientSession() as s:
        rt = twins["okx"]
        cred = rt.twin.credentials
        async with s.ws_connect(rt.ws["private"]) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "SWAP"}]}))
            assert json.loads((await ws.receive(timeout=5)).data)["code"] == "60011"
            ts = str(int(time.time()))
            good = {"apiKey": cred.api_key, "passphrase": cred.passphrase, "timestamp": ts,
                    "sign": sign(cred.secret, ts + "GET/users/self/verify")}
            old = str(int(time.time()) - 60)
            cases = [(good | {"sign": sign(cred.secret, ts + "GET/users/self/verifyX")}, "60007"),
                     (good | {"timestamp": old, "sign": sign(cred.secret, old + "GET/users/self/verify")}, "60006"),
                     (good | {"passphrase": "nope"}, "60024"), (good | {"apiKey": "nope"}, "60005"), ({}, "60009")]
            for arg, code in cases:
                await ws.send_str(json.dumps({"op": "login", "args": [arg]}))
                reply = json.loads((await ws.receive(timeout=5)).data)
                assert reply["code"] == code and json_shape(reply) == json_shape(load_fixture("okx/ws_login_error.json"))
            await ws.send_str(json.dumps({"op": "login", "args": [good]}))
            assert json.loads((await ws.receive(timeout=5)).data)["code"] == "0"
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "account"}]}))
            assert json.loads((await ws.receive(timeout=5)).data)["event"] == "subscribe"


def test_ws_login_vector_signs_like_the_documented_rule() -> None:
    vec = next(v for v in load_fixture("signing_vectors.json")["okx"] if v["name"] == "v5_ws_login_computed")
    assert sign(vec["secret"], vec["timestamp"] + "GET" + "/users/self/verify") == vec["expected_signature"]
    assert sign(vec["secret"], vec["prehash"]) != vec["doc_example_sign"]


async def _next_books(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    for _ in range(100):
        msg: dict[str, Any] = json.loads((await ws.receive(timeout=5)).data)
        if msg.get("action") == "update":
            return msg
    raise AssertionError("no books update")


@pytest.mark.parametrize("real_checksum", [False, True], ids=["checksum-0", "real-crc"])
async def test_skip_sequence_and_corrupt_checksum_faults_fire_once(real_checksum: bool) -> None:
    opts = {"okx": {"config": OkxConfig(real_checksum=real_checksum)}}
    async with start_twins(["okx"], rate=0, factories=FACTORIES, options=opts) as twins, aiohttp.ClientSession() as s:
        rt = twins["okx"]
        async with s.ws_connect(rt.ws["public"]) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT-SWAP"}]}))
            json.loads((await ws.receive(timeout=5)).data)
            book = _LocalBook()
            book.apply(json.loads((await ws.receive(timeout=5)).data))
            rt.twin.faults.inject(FaultKind.SKIP_SEQUENCE)
            twins.step(3)
            results = [book.apply(await _next_books(ws)) for _ in range(2)]
            assert results[0][0] is False and results[1][0] is True  # one gap, then continuity resumes
            book = _LocalBook()
            await ws.send_str(json.dumps({"op": "unsubscribe", "args": [{"channel": "books", "instId": "BTC-USDT-SWAP"}]}))
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT-SWAP"}]}))
            msgs = [json.loads((await ws.receive(timeout=5)).data) for _ in range(3)]
            assert [m.get("event") or m["action"] for m in msgs] == ["unsubscribe", "subscribe", "snapshot"]
            book.apply(msgs[2])
            rt.twin.faults.inject(FaultKind.CORRUPT_CHECKSUM)
            twins.step(2)
            pushes = [await _next_books(ws) for _ in range(2)]
            results = [book.apply(m) for m in pushes]
            if real_checksum:
                assert results == [(True, False), (True, True)]
            else:  # a wrong value where OKX now sends 0, once; the sequence is untouched
                assert [r[0] for r in results] == [True, True]
                assert [m["data"][0]["checksum"] for m in pushes] == [-1, 0]


async def test_without_the_snapshot_switch_books_start_with_updates_and_rest_books_bridge_them() -> None:
    """``book_snapshot=False`` (OKX's announced change): a subscription gets its ack and then updates only; a
    client following OKX's procedure (buffer, GET /api/v5/market/books, align on its seqId) ends on the twin's
    book."""
    opts = {"okx": {"config": OkxConfig(book_snapshot=False)}}
    async with start_twins(["okx"], rate=0, factories=FACTORIES, options=opts) as twins, aiohttp.ClientSession() as s:
        rt = twins["okx"]
        inst = "BTC-USDT-SWAP"
        async with s.ws_connect(rt.ws["public"]) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": inst}]}))
            assert json.loads((await ws.receive(timeout=5)).data)["event"] == "subscribe"
            twins.step(5)
            buffered = [await _next_books(ws) for _ in range(5)]
            assert all(m["action"] == "update" for m in buffered)
            async with s.get(f"{rt.rest}/api/v5/market/books", params={"instId": inst, "sz": "400"}) as r:
                snap = (await r.json())["data"][0]
            assert snap["seqId"] == buffered[-1]["data"][0]["seqId"]  # the published book, with the stream's seqId
            book = _LocalBook()
            book.apply({"action": "snapshot", "data": [snap | {"prevSeqId": -1, "checksum": 0}]})
            twins.step(30)
            first = await _next_books(ws)
            assert first["data"][0]["prevSeqId"] <= snap["seqId"] < first["data"][0]["seqId"]
            assert book.apply(first)[0]
            for _ in range(29):
                assert book.apply(await _next_books(ws))[0]
            async with s.get(f"{rt.rest}/__admin/book", params={"symbol": inst}) as r:
                admin = await r.json()
            assert admin["update_id"] == book.seq
            assert admin["bids"] == [list(x) for x in sorted(book.bids.items(), key=lambda kv: -Decimal(kv[0]))]


async def test_ws_faults_drop_stall_malformed_and_idle_disconnect() -> None:
    opts = {"okx": {"config": OkxConfig(idle_timeout_s=0.8)}}
    async with start_twins(["okx"], rate=0, factories=FACTORIES, options=opts) as twins, aiohttp.ClientSession() as s:
        rt = twins["okx"]
        faults = rt.twin.faults
        async with s.ws_connect(rt.ws["public"]) as ws:
            await ws.send_str("ping")
            assert (await ws.receive(timeout=5)).data == "pong"
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "books5", "instId": "BTC-USDT-SWAP"}]}))
            await ws.receive(timeout=5)
            faults.inject(FaultKind.MALFORMED_FRAME)
            twins.step(2)
            first = (await ws.receive(timeout=5)).data
            with pytest.raises(json.JSONDecodeError):
                json.loads(first)
            assert json.loads((await ws.receive(timeout=5)).data)["arg"]["channel"] == "books5"
            faults.inject(FaultKind.STALL, 0.5)
            await ws.send_str("ping")
            twins.step(2)
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=0.3)
            await anyio.sleep(0.3)
            await ws.send_str("ping")
            assert (await ws.receive(timeout=5)).data == "pong"  # the stall ended by itself
            faults.inject(FaultKind.DROP_WS)
            closed = await ws.receive(timeout=5)
            assert closed.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
        async with s.ws_connect(rt.ws["public"]) as ws:  # the drop was one-shot: new connections work
            await ws.send_str("ping")
            assert (await ws.receive(timeout=5)).data == "pong"
            started = time.monotonic()
            msg = await ws.receive(timeout=5)  # silent client: closed after the idle timeout
            assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4004
            assert 0.7 < time.monotonic() - started < 3.0
