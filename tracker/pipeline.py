"""The one place that knows the order of the stages: fetch -> extract -> match -> store -> detect."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db import store
from db.models import Colorway, Event, Listing, Observation
from tracker import releases
from tracker.config import Config
from tracker.config import Source as SourceConfig
from tracker.errors import ExtractError, FetchError
from tracker.events import Context, Draft, State, detect, detect_new
from tracker.extract import extract_page, extract_shopify_catalogue, extract_shopify_product_js
from tracker.extract.model import Availability, Product
from tracker.fetch import Fetcher, FetchResult
from tracker.match import CatalogueEntry, match_product
from tracker.sanity import suspicious

SHOPIFY_PAGE_SIZE = 250

# What a finished check run records (CheckRun.status): it read the shop, or why it could not.
# A run still in flight is "running"; one stopped by shutdown before writing is "cancelled".
RUN_STATUSES = frozenset(
    {
        "ok",
        "partial",
        "not_modified",
        "blocked",
        "timeout",
        "rate_limited",
        "server_error",
        "http_error",
        "too_large",
        "redirect_loop",
        "connection",
        "robots",
        "not_product",
        "extract_error",
        "unsupported",
        "cancelled",
    }
)


class Planner(Protocol):
    """Turns new events into outbox deliveries inside the same transaction."""

    def __call__(
        self, session: Session, events: Sequence[Event], config: Config, *, now: datetime
    ) -> Sequence[Any]: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Fetched:
    """One product read from one response, with the validators to send next time."""

    product: Product
    key: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Collected:
    """Everything a source's fetch stage produced, before anything is written."""

    items: list[Fetched] = field(default_factory=list)
    not_modified: list[str] = field(default_factory=list)
    errors: list[tuple[str, FetchError]] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)
    not_product: list[str] = field(default_factory=list)
    requests: int = 0
    nbytes: int = 0
    complete: bool = False
    http_cache: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSummary:
    """What one check of one source did (for the CLI's table and the scheduler's log)."""

    source: str
    status: str
    duration_ms: int
    requests: int = 0
    not_modified: int = 0
    listings: int = 0
    observations: int = 0
    events: int = 0
    error: str | None = None
    event_kinds: tuple[str, ...] = ()


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _strip_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _account(out: Collected, res: FetchResult) -> None:
    out.requests += res.attempts
    out.nbytes += len(res.body)


async def collect_shopify(
    src: SourceConfig, fetcher: Fetcher, http_cache: dict[str, dict[str, str]]
) -> Collected:
    """Page through a Shopify catalogue's products.json (conditional requests per page)."""
    out = Collected(http_cache=dict(http_cache))
    base = (src.url or src.all_urls()[0]).rstrip("/")
    path = f"/collections/{src.collection}/products.json" if src.collection else "/products.json"
    complete = True
    for page in range(1, src.max_pages + 1):
        url = f"{base}{path}?limit={SHOPIFY_PAGE_SIZE}&page={page}"
        cached = http_cache.get(url, {})
        res = await fetcher.fetch(
            url,
            source=src,
            etag=cached.get("etag"),
            last_modified=cached.get("last_modified"),
            accept="application/json",
        )
        _account(out, res)
        if res.not_modified:
            out.not_modified.append(url)
            count = int(cached.get("count", str(SHOPIFY_PAGE_SIZE)))
        else:
            try:
                payload = json.loads(res.body)
                raw = payload["products"]
                if not isinstance(raw, list):
                    raise TypeError("products is not a list")
            except (ValueError, KeyError, TypeError) as exc:
                raise ExtractError(f"{url}: not a Shopify products.json ({exc})") from None
            count = len(raw)
            try:
                products = extract_shopify_catalogue(
                    payload, base_url=base, currency=src.currency, query=src.query
                )
            except ExtractError:
                raise
            except Exception as exc:  # whatever a shop sends must end in a recorded failure
                why = f"{type(exc).__name__}: {exc}"
                raise ExtractError(f"{url}: cannot read the catalogue ({why})") from None
            for product in products:
                key = product.external_id or product.url or ""
                out.items.append(Fetched(product, key))
            validators = {"count": str(count)}
            if res.etag:
                validators["etag"] = res.etag
            if res.last_modified:
                validators["last_modified"] = res.last_modified
            out.http_cache[url] = validators
        if count < SHOPIFY_PAGE_SIZE:
            break
    else:
        complete = False  # max_pages reached: a listing missing from what we read is not gone
    out.complete = complete and not out.not_modified
    return out


async def _collect_one(
    src: SourceConfig, fetcher: Fetcher, url: str, listing: Listing | None, out: Collected
) -> None:
    as_js = src.kind == "shopify_product"
    target = _strip_query(url) + ".js" if as_js else url
    try:
        res = await fetcher.fetch(
            target,
            source=src,
            etag=listing.etag if listing else None,
            last_modified=listing.last_modified if listing else None,
            accept="application/json" if as_js else None,
        )
    except FetchError as exc:
        out.errors.append((url, exc))
        return
    _account(out, res)
    if res.not_modified:
        out.not_modified.append(url)
        return
    try:
        if as_js:
            product = extract_shopify_product_js(res.body, url=_strip_query(url), currency=src.currency)
        else:
            product = extract_page(
                res.body,
                res.final_url,
                selectors=src.selectors,
                currency=src.currency,
                content_type=res.content_type,
            )
    except (ExtractError, ValueError) as exc:
        out.errors.append((url, FetchError(f"{url}: cannot read the page: {exc}", kind="extract_error")))
        return
    except Exception as exc:  # whatever a shop sends must end in a recorded failure, not a crash
        why = f"{type(exc).__name__}: {exc}"
        out.errors.append((url, FetchError(f"{url}: cannot read the page ({why})", kind="extract_error")))
        return
    if product.blocked:
        out.blocked.append((url, product.blocked))
        return
    if product.extra.get("not_product") or (not as_js and not _has_information(product)):
        # A page with no price, stock or sizes (a region picker, a home page) is no product page.
        out.not_product.append(url)
        return
    if product.extra.get("zero_price"):
        # A price of 0 is a placeholder: recording the page would replace the real price with none.
        out.errors.append((url, FetchError(f"{url}: the page gives a price of 0", kind="extract_error")))
        return
    out.items.append(Fetched(product.with_(external_id=url), url, res.etag, res.last_modified))


async def collect_pages(src: SourceConfig, fetcher: Fetcher, listings: dict[str, Listing]) -> Collected:
    """Fetch every product URL of a source concurrently (the fetcher enforces per-host limits)."""
    out = Collected()
    urls = src.all_urls()
    await asyncio.gather(*(_collect_one(src, fetcher, url, listings.get(url), out) for url in urls))
    out.complete = True
    return out


def _state_of(product: Product) -> State:
    return State.of(
        product.price,
        product.currency,
        product.compare_at,
        product.availability.value,
        [s.to_json() for s in product.sizes],
    )


def _state_of_obs(obs: Observation) -> State:
    return State.of(obs.price, obs.currency, obs.compare_at, obs.availability, obs.sizes)


def _has_information(product: Product) -> bool:
    return (
        product.price is not None or product.availability is not Availability.UNKNOWN or bool(product.sizes)
    )


class Pipeline:
    """Runs checks: the stages in order, with the engine, fetcher, clock and planner passed in."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        fetcher: Fetcher,
        *,
        clock: Callable[[], datetime] = utcnow,
        planner: Planner | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.fetcher = fetcher
        self.clock = clock
        self.planner = planner
        self.sync()

    def sync(self) -> None:
        """Bring colorway and source rows in line with the config."""
        with Session(self.engine) as session, session.begin():
            store.sync_catalogue(session, self.config.colorways, self.config.sources)

    async def check(self, name: str) -> RunSummary:
        """One check of one source; every failure is recorded on its run, never raised."""
        src = self.config.source(name)
        if src is None:
            raise LookupError(f"no source named {name!r} in the config")
        started = time.perf_counter()
        with Session(self.engine) as session:
            row = store.source_row(session, name)
            source_id = row.id
            assert source_id is not None
            http_cache = dict(row.http_cache or {})
            listings = store.listings_of(session, source_id) if src.kind != "shopify" else {}
            for listing in listings.values():
                session.expunge(listing)
        run_id = store.start_run(self.engine, source_id, self.clock())
        try:
            if src.kind == "shopify":
                collected = await collect_shopify(src, self.fetcher, http_cache)
            elif src.kind in ("page", "shopify_product"):
                collected = await collect_pages(src, self.fetcher, listings)
            elif src.kind == "release_calendar":
                return await releases.check_calendar(self, src, source_id, run_id, started)
            else:
                raise FetchError(
                    f"{name}: sources of kind {src.kind!r} are not checked yet", kind="unsupported"
                )
        except (FetchError, ExtractError) as exc:
            kind = exc.kind if isinstance(exc, FetchError) else "extract_error"
            return self._fail(
                name, run_id, kind, str(exc), started=started, http_status=getattr(exc, "status_code", None)
            )
        except asyncio.CancelledError:
            # Shutdown while fetching: nothing was written; say so on the run and stop.
            store.cancel_run(self.engine, run_id, now=self.clock(), duration_ms=_ms_since(started))
            raise
        return self._write(src, source_id, run_id, collected, started)

    def _fail(
        self,
        name: str,
        run_id: int,
        status: str,
        error: str,
        *,
        started: float,
        http_status: int | None = None,
        collected: Collected | None = None,
    ) -> RunSummary:
        duration = int((time.perf_counter() - started) * 1000)
        planner = self.planner
        now = self.clock()

        def plan(session: Session, event: Event) -> None:
            if planner is not None:
                planner(session, [event], self.config, now=now)

        broken, _src = store.fail_run(
            self.engine,
            run_id,
            status=status,
            error=error,
            now=now,
            duration_ms=duration,
            requests=collected.requests if collected else 0,
            nbytes=collected.nbytes if collected else 0,
            http_status=http_status,
            broken_after=self.config.defaults.broken_after,
            on_broken=plan,
        )
        return RunSummary(
            name, status, duration, error=error, event_kinds=("source_broken",) if broken else ()
        )

    def _write(
        self, src: SourceConfig, source_id: int, run_id: int, got: Collected, started: float
    ) -> RunSummary:
        failures = len(got.errors) + len(got.blocked) + len(got.not_product)
        if not got.items and not got.not_modified and failures:
            if got.blocked and len(got.blocked) >= len(got.errors):
                url, why = got.blocked[0]
                return self._fail(
                    src.name,
                    run_id,
                    "blocked",
                    f"{url}: {why} page (bot protection)",
                    started=started,
                    collected=got,
                )
            if got.not_product and not got.errors:
                return self._fail(
                    src.name,
                    run_id,
                    "not_product",
                    f"{got.not_product[0]}: not a product page",
                    started=started,
                    collected=got,
                )
            url, exc = got.errors[0]
            return self._fail(
                src.name,
                run_id,
                exc.kind,
                str(exc),
                started=started,
                http_status=exc.status_code,
                collected=got,
            )

        now = self.clock()
        catalogue, colorways = self._catalogue()
        new_events: list[Event] = []
        written = 0
        with Session(self.engine) as session, session.begin():
            source = store.source_row(session, src.name)
            baseline = not source.baseline_done
            listings = store.listings_of(session, source_id)
            previous = store.observations_by_id(
                session, [lst.last_observation_id for lst in listings.values() if lst.last_observation_id]
            )
            # Style codes already seen anywhere, read only when a new listing needs them (rarely):
            # listings created by this check are left out, as they were not known before it.
            known_codes: set[str] | None = None
            created_ids: list[int] = []
            seen: set[int] = set()
            offered: list[tuple[Listing, Product]] = []  # for the release hook below
            unchanged: list[int] = []
            suspects: list[str] = []
            for item in got.items:
                product = item.product
                if not _has_information(product):
                    continue
                match = match_product(product, catalogue)
                if src.kind == "shopify" and not match.is_2002r and match.colorway_id is None:
                    continue
                listing = listings.get(item.key)
                created = listing is None
                if listing is None:
                    listing = Listing(
                        source_id=source_id,
                        external_id=item.key,
                        url=product.url or item.key,
                        first_seen_at=now,
                    )
                listing.title = product.title or listing.title
                listing.url = product.url or listing.url
                listing.image = product.image or listing.image
                listing.style_code = match.style_code or listing.style_code
                listing.colorway_id = match.colorway_id
                listing.match_method = match.method
                listing.discovered = match.colorway_id is None and match.is_2002r
                listing.last_checked_at = now
                listing.gone = False
                if item.etag or item.last_modified:
                    listing.etag, listing.last_modified = item.etag, item.last_modified
                session.add(listing)
                if created:
                    session.flush()
                    listings[item.key] = listing
                    assert listing.id is not None
                    created_ids.append(listing.id)
                assert listing.id is not None
                seen.add(listing.id)
                offered.append((listing, product))
                state = _state_of(product)
                old_obs = previous.get(listing.last_observation_id or -1)
                ctx = self._context(src.name, listing, colorways.get(match.colorway_id or -1))
                drafts: list[Draft] = []
                if old_obs is not None and old_obs.suspect:
                    confirmed = store.last_confirmed(session, listing.id, before_id=old_obs.id)
                    if _state_of_obs(old_obs) == state:
                        # The next check saw the same price: the held observation is real.
                        old_obs.suspect = False
                        session.add(old_obs)
                        unchanged.append(listing.id)
                        if confirmed is not None:
                            drafts = detect(ctx, _state_of_obs(confirmed), state)
                        new_events.extend(self._events(drafts, source_id, listing, old_obs, now))
                        continue
                    old_obs = confirmed
                old_state = _state_of_obs(old_obs) if old_obs else None
                if old_state == state and listing.last_observation_id == (old_obs.id if old_obs else None):
                    unchanged.append(listing.id)
                    continue
                hold = suspicious(
                    product.price,
                    product.currency,
                    list_prices=dict(ctx.list_prices),
                    last_price=old_obs.price if old_obs else None,
                    last_currency=old_obs.currency if old_obs else None,
                )
                obs = Observation(
                    listing_id=listing.id,
                    run_id=run_id,
                    observed_at=now,
                    price=product.price,
                    currency=product.currency,
                    compare_at=product.compare_at,
                    availability=product.availability.value,
                    sizes=[s.to_json() for s in product.sizes],
                    suspect=hold is not None,
                )
                session.add(obs)
                session.flush()
                listing.last_observation_id = obs.id
                written += 1
                if hold is not None:
                    suspects.append(f"{listing.url}: {hold}")
                    continue
                if old_state is not None:
                    drafts = detect(ctx, old_state, state)
                elif created and not baseline:
                    if known_codes is None:
                        known_codes = self._known_codes(session, exclude=created_ids)
                    discovered_code = bool(
                        match.colorway_id is None and match.style_code and match.style_code not in known_codes
                    )
                    if match.style_code:
                        known_codes.add(match.style_code)
                    if match.colorway_id is not None or match.is_2002r:
                        drafts = detect_new(ctx, state, discovered_code=discovered_code)
                new_events.extend(self._events(drafts, source_id, listing, obs, now))
            store.touch_listings(session, unchanged, now)
            if got.not_modified and src.kind != "shopify":
                ids = [listings[u].id for u in got.not_modified if u in listings]
                store.touch_listings(session, [i for i in ids if i is not None], now)
                seen.update(i for i in ids if i is not None)
            elif got.not_modified:
                # A catalogue page answered 304: its products are unchanged, so every listing
                # of the source not seen on a changed page is still there.
                rest = [
                    lst.id
                    for lst in listings.values()
                    if lst.id not in seen and lst.id is not None and not lst.gone
                ]
                store.touch_listings(session, rest, now)
                seen.update(rest)
            if src.kind == "shopify" and got.complete:
                store.mark_gone(session, source_id, seen)
            # Coming-soon products and releases going live, in this same transaction.
            new_events.extend(
                releases.after_products(
                    session, self.config, source_name=src.name, source_id=source_id, offered=offered, now=now
                )
            )
            session.add_all(new_events)
            session.flush()
            if new_events and self.planner is not None:
                self.planner(session, new_events, self.config, now=now)
            partial = failures > 0
            status = "partial" if partial else ("not_modified" if got.not_modified and not written else "ok")
            error = None
            if got.errors:
                error = str(got.errors[0][1])
            elif got.blocked:
                error = f"{got.blocked[0][0]}: {got.blocked[0][1]} page (bot protection)"
            elif got.not_product:
                error = f"{got.not_product[0]}: not a product page"
            elif suspects:
                error = f"held as suspect until the next check confirms it: {suspects[0]}"
            duration = int((time.perf_counter() - started) * 1000)
            store.complete_run(
                session,
                run_id,
                source,
                status=status,
                now=now,
                finished_at=self.clock(),
                duration_ms=duration,
                healthy=not partial,
                requests=got.requests,
                nbytes=got.nbytes,
                not_modified=len(got.not_modified),
                listings_seen=len(seen),
                observations_written=written,
                events_created=len(new_events),
                error=error,
            )
            if src.kind == "shopify":
                source.http_cache = got.http_cache
            kinds = tuple(e.kind for e in new_events)
        return RunSummary(
            src.name,
            status,
            duration,
            requests=got.requests,
            not_modified=len(got.not_modified),
            listings=len(seen),
            observations=written,
            events=len(new_events),
            error=error,
            event_kinds=kinds,
        )

    def _catalogue(self) -> tuple[list[CatalogueEntry], dict[int, Colorway]]:
        with Session(self.engine) as session:
            rows = session.exec(select(Colorway)).all()
            for row in rows:
                session.expunge(row)
        aliases = {c.style_code: tuple(a.upper() for a in c.aliases) for c in self.config.colorways}
        entries = [
            CatalogueEntry(r.id, r.style_code, r.name, aliases.get(r.style_code, ()))
            for r in rows
            if r.id is not None
        ]
        return entries, {r.id: r for r in rows if r.id is not None}

    @staticmethod
    def _events(
        drafts: Sequence[Draft], source_id: int, listing: Listing, obs: Observation, now: datetime
    ) -> list[Event]:
        return [
            Event(
                created_at=now,
                kind=d.kind,
                source_id=source_id,
                listing_id=listing.id,
                colorway_id=listing.colorway_id,
                observation_id=obs.id,
                message=d.message,
                data=d.data,
            )
            for d in drafts
        ]

    @staticmethod
    def _known_codes(session: Session, *, exclude: Sequence[int]) -> set[str]:
        stmt = select(Listing.style_code).where(col(Listing.style_code).is_not(None))
        if exclude:
            stmt = stmt.where(col(Listing.id).not_in(list(exclude)))
        return {r for r in session.exec(stmt).all() if r}

    @staticmethod
    def _context(shop: str, listing: Listing, colorway: Colorway | None) -> Context:
        return Context(
            shop=shop,
            title=listing.title,
            url=listing.url,
            image=listing.image,
            style_code=colorway.style_code if colorway else listing.style_code,
            colorway=colorway.name if colorway else None,
            line=colorway.line if colorway else None,
            list_prices=dict(colorway.list_prices) if colorway else {},
            target_prices=dict(colorway.target_prices) if colorway else {},
            my_sizes=tuple(colorway.sizes) if colorway else (),
        )
