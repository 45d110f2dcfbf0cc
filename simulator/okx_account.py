"""OKX v5 account payloads: the balance (``/account/balance``, ``account`` channel) and position rows
(``/account/positions``, ``positions`` channel), computed from the twin's engine at the current marks.

Invariants:
- One cross-margin account; balances are per settle currency, USD totals use each coin's linear-swap mark.
  Free margin is OKX's own fields: ``availEq`` = eq - frozenBal (frozenBal = imr + ordFrozen) and
  ``availBal`` = cashBal - frozenBal; ``eq`` = cashBal + upl.
- Positions: in net_mode one row per instrument, ``posSide: net`` and a signed ``pos``; in long_short_mode
  one row per side, ``posSide: long`` / ``short`` and ``pos`` unsigned. Only open positions are listed,
  except flat ones a push names in ``include``.
- Read-only: nothing here mutates the engine. No I/O.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator import okx_format as fmt
from simulator.account import PositionSide

if TYPE_CHECKING:
    from simulator.okx_config import OkxTwinLike

__all__ = ["balance_data", "position_rows"]

_E8 = Decimal("0.00000001")


def _num8(v: Decimal) -> str:
    return fmt.num(v.quantize(_E8))


def balance_data(twin: OkxTwinLike, ccys: set[str] | None = None) -> dict[str, Any]:
    """The single ``data`` element of GET /api/v5/account/balance (also the ``account`` channel row)."""
    acct, eng, now = twin.engine.account, twin.engine, twin.now_ms()
    marks = eng.marks()
    details, total_eq, total_avail, total_upl, total_imr = [], Decimal(0), Decimal(0), Decimal(0), Decimal(0)
    for ccy, wallet in acct.balances.items():
        if ccys and ccy not in ccys:
            continue
        upl = sum((pos.unrealized(twin.specs[pos.symbol], marks[pos.symbol]) for pos in acct.positions.values()
                   if twin.specs[pos.symbol].settle_asset == ccy), Decimal(0))
        imr = acct.margin_used(twin.specs, marks, ccy)
        frozen = sum((twin.specs[o.symbol].notional(o.remaining, o.price or marks[o.symbol]) / acct.leverage
                      for o in eng.open_orders() if twin.specs[o.symbol].settle_asset == ccy), Decimal(0))
        usd = twin.usd_price(ccy)
        eq = wallet + upl
        avail = wallet - imr - frozen
        total_eq += eq * usd
        total_avail += (eq - imr - frozen) * usd
        total_upl += upl * usd
        total_imr += imr * usd
        details.append({
            "autoLendStatus": "off", "autoLendMtAmt": "0", "availBal": _num8(avail), "availEq": _num8(eq - imr - frozen),
            "borrowFroz": "0", "cashBal": _num8(wallet), "ccy": ccy, "crossLiab": "0", "colRes": "0",
            "collateralEnabled": False, "collateralRestrict": False, "colBorrAutoConversion": "0",
            "disEq": _num8(eq * usd), "eq": _num8(eq), "eqUsd": _num8(eq * usd), "smtSyncEq": "0",
            "spotCopyTradingEq": "0", "fixedBal": "0", "frozenBal": _num8(imr + frozen), "frpType": "0",
            "imr": _num8(imr), "interest": "0", "isoEq": "0", "isoLiab": "0", "isoUpl": "0", "liab": "0",
            "maxLoan": "0", "mgnRatio": "", "mmr": _num8(imr / 5), "notionalLever": "", "ordFrozen": _num8(frozen),
            "rewardBal": "0", "spotInUseAmt": "", "clSpotInUseAmt": "", "maxSpotInUse": "", "spotIsoBal": "0",
            "stgyEq": "0", "twap": "0", "uTime": str(acct.updated_ms or now), "upl": _num8(upl), "uplLiab": "0",
            "spotBal": "", "openAvgPx": "", "accAvgPx": "", "spotUpl": "", "spotUplRatio": "", "totalPnl": "",
            "totalPnlRatio": "",
        })
    notional = sum((abs(r["notional_usd"]) for r in _positions(twin)), Decimal(0))
    return {
        "adjEq": _num8(total_eq), "availEq": _num8(total_avail), "borrowFroz": "0", "delta": "0", "deltaLever": "0",
        "deltaNeutralStatus": "0", "details": details, "imr": _num8(total_imr), "isoEq": "0", "mgnRatio": "",
        "mmr": _num8(total_imr / 5), "notionalUsd": _num8(notional), "notionalUsdForBorrow": "0",
        "notionalUsdForFutures": "0", "notionalUsdForOption": "0", "notionalUsdForSwap": _num8(notional),
        "ordFroz": "", "totalEq": _num8(total_eq), "uTime": str(now), "upl": _num8(total_upl),
    }


def _positions(twin: OkxTwinLike, include: set[str] | None = None) -> list[dict[str, Any]]:
    marks, out = twin.engine.marks(), []
    for pos in twin.engine.account.positions.values():
        sym = pos.symbol
        if pos.qty == 0 and sym not in (include or ()):
            continue
        spec = twin.specs[sym]
        value = spec.notional(abs(pos.qty), marks[sym])
        out.append({"sym": sym, "pos": pos, "value": value,
                    "notional_usd": abs(pos.qty) * spec.contract_size if spec.inverse else value})
    return out


def position_rows(twin: OkxTwinLike, inst_ids: set[str] | None = None, include: set[str] | None = None) -> list[dict[str, Any]]:
    """GET /api/v5/account/positions rows: open positions, plus flat ones named in ``include`` (pushes)."""
    lev, rows = twin.engine.account.leverage, []
    for i, r in enumerate(_positions(twin, include)):
        sym, pos = r["sym"], r["pos"]
        if inst_ids and sym not in inst_ids:
            continue
        spec, mark = twin.specs[sym], twin.mark(sym)
        upl = pos.unrealized(spec, mark)
        imr = r["value"] / lev
        fill = max((f for oid, f in twin.last_fill.items() if twin.engine.orders[oid].symbol == sym),
                   key=lambda f: f.trade_id, default=None)
        rows.append({
            "adl": "1", "availPos": fmt.num(abs(pos.qty)), "avgPx": fmt.num(pos.entry_price.quantize(_E8)), "baseBal": "",
            "baseBorrowed": "", "baseInterest": "", "bePx": fmt.num(pos.entry_price.quantize(_E8)), "bizRefId": "",
            "bizRefType": "", "cTime": str(pos.updated_ms), "ccy": spec.settle_asset, "clSpotInUseAmt": "",
            "closeOrderAlgo": [], "deltaBS": "", "deltaPA": "", "fee": "", "fundingFee": "0", "gammaBS": "",
            "gammaPA": "", "hedgedPos": "", "idxPx": fmt.num(mark), "imr": _num8(imr), "instId": sym,
            "instType": "SWAP", "interest": "", "last": fmt.num(twin.last_price(sym)), "lever": str(lev), "liab": "",
            "liabCcy": "", "liqPenalty": "0", "liqPx": "", "margin": "", "markPx": fmt.num(mark), "maxSpotInUseAmt": "",
            "mgnMode": "cross", "mgnRatio": "", "mmr": _num8(imr / 5), "notionalUsd": _num8(r["notional_usd"]),
            "optVal": "", "pendingCloseOrdLiabVal": "", "pnl": _num8(pos.realized_pnl),
            "pos": fmt.num(pos.qty if pos.side is PositionSide.BOTH else abs(pos.qty)),
            "posCcy": "", "posId": str(1752810569801498626 + i), "posSide": fmt.POS_SIDE[pos.side], "quoteBal": "",
            "quoteBorrowed": "",
            "quoteInterest": "", "realizedPnl": _num8(pos.realized_pnl), "spotInUseAmt": "", "spotInUseCcy": "",
            "thetaBS": "", "thetaPA": "", "tradeId": str(fill.trade_id) if fill else "", "uTime": str(pos.updated_ms),
            "upl": _num8(upl), "uplLastPx": _num8(pos.unrealized(spec, twin.last_price(sym))),
            "uplRatio": _num8(upl / imr) if imr else "0", "uplRatioLastPx": _num8(upl / imr) if imr else "0",
            "usdPx": "", "vegaBS": "", "vegaPA": "", "nonSettleAvgPx": "", "settledPnl": "",
        })
    return rows
