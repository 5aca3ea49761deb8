"""Record: write what a check collected, inside its transaction, and detect the events it raises.

Products become listings and change-only observations (a suspect price is held, see sanity.py);
releases read from calendars become release records. Both return a Recorded for the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from db import store
from db.models import Colorway, Event, Listing, Observation
from db.models import Source as SourceRow
from tracker.check.collect import has_information
from tracker.check.sanity import suspicious
from tracker.check.summary import Collected, Fetched
from tracker.config import Config
from tracker.config import Source as SourceConfig
from tracker.events import Context, Draft, State, detect, detect_new
from tracker.extract.model import Product, ReleaseInfo
from tracker.match import CatalogueEntry, Match, match_listing, match_product
from tracker.pricing import effective_list_prices
from tracker.releases.records import record_release, resolve
from tracker.sizes import US_MEN
from tracker.stylecode import mentions_2002r


@dataclass(frozen=True)
class Catalogue:
    """The colorways as matching and detection need them, read once per check."""

    entries: list[CatalogueEntry]
    by_id: dict[int, Colorway]

    @property
    def by_code(self) -> dict[str, Colorway]:
        return {c.style_code: c for c in self.by_id.values()}


def load_catalogue(session: Session, config: Config) -> Catalogue:
    """Every colorway row, with the aliases config.toml gives it."""
    rows = session.exec(select(Colorway)).all()
    aliases = {c.style_code: tuple(a.upper() for a in c.aliases) for c in config.colorways}
    entries = [
        CatalogueEntry(r.id, r.style_code, r.name, aliases.get(r.style_code, ()))
        for r in rows
        if r.id is not None
    ]
    return Catalogue(entries, {r.id: r for r in rows if r.id is not None})


def rematch_discovered(session: Session, catalogue: Catalogue) -> list[Listing]:
    """Connect listings that matched no colorway to the one the catalogue now has for them."""

    def find(listing: Listing) -> tuple[int, str] | None:
        match = match_listing(listing.style_code, listing.title, listing.url, catalogue.entries)
        return None if match.colorway_id is None else (match.colorway_id, match.method)

    return store.rematch_discovered(session, find)


@dataclass
class Recorded:
    """What the record stage wrote: for the run's counters, the alert planner and the release hook."""

    events: list[Event] = field(default_factory=list)
    written: int = 0
    listings: int = 0  # listings (or releases) the check saw
    seen: set[int] = field(default_factory=set)
    suspects: list[str] = field(default_factory=list)
    offered: list[tuple[Listing, Product]] = field(default_factory=list)


def state_of(product: Product) -> State:
    """A product's comparable state."""
    return State.of(
        product.price,
        product.currency,
        product.compare_at,
        product.availability.value,
        [s.to_json() for s in product.sizes],
    )


def state_of_obs(obs: Observation) -> State:
    """An observation's comparable state."""
    return State.of(obs.price, obs.currency, obs.compare_at, obs.availability, obs.sizes)


def context_for(
    shop: str,
    listing: Listing,
    colorway: Colorway | None,
    locale: str | None = None,
    size_system: str = US_MEN,
) -> Context:
    """What detection knows of a listing: its colorway, list prices (with the line's default), sizes
    (in the collector's size system)."""
    return Context(
        shop=shop,
        title=listing.title,
        url=listing.url,
        image=listing.image,
        style_code=colorway.style_code if colorway else listing.style_code,
        colorway=colorway.name if colorway else None,
        line=colorway.line if colorway else None,
        list_prices=effective_list_prices(colorway.list_prices, colorway.line) if colorway else {},
        target_prices=dict(colorway.target_prices) if colorway else {},
        my_sizes=tuple(colorway.sizes) if colorway else (),
        locale=locale,
        size_system=size_system,
    )


def events_from(
    drafts: Sequence[Draft], source_id: int, listing: Listing, obs: Observation, now: datetime
) -> list[Event]:
    """Event rows for a listing's drafts."""
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


class ProductRecorder:
    """Writes one check's products: listings, observations when something changed, their events."""

    def __init__(
        self,
        session: Session,
        src: SourceConfig,
        source: SourceRow,
        *,
        run_id: int,
        catalogue: Catalogue,
        now: datetime,
        locale: str | None = None,
        size_system: str = US_MEN,
    ) -> None:
        assert source.id is not None
        self.locale = locale
        self.size_system = size_system
        self.session, self.src, self.source_id = session, src, source.id
        self.run_id, self.catalogue, self.now = run_id, catalogue, now
        self.baseline = not source.baseline_done  # a source's first check announces nothing
        self.listings = store.listings_of(session, source.id)
        self.previous = store.observations_by_id(
            session, [lst.last_observation_id for lst in self.listings.values() if lst.last_observation_id]
        )
        # Style codes already seen anywhere, read only when a new listing needs them (rarely):
        # listings created by this check are left out, as they were not known before it.
        self.known_codes: set[str] | None = None
        self.created_ids: list[int] = []
        # This check's observations, by listing id, and the events they raise (in item order):
        # written together, then given their ids, so 300 new listings are a few INSERTs, not 900.
        self.written_now: dict[int, Observation] = {}
        self.raised: list[tuple[Sequence[Draft], Listing, Observation]] = []
        self.out = Recorded()

    def record(self, got: Collected) -> Recorded:
        """Every item, then the listings a 304 or a complete catalogue says about."""
        wanted = [(item, match) for item in got.items if (match := self._match(item)) is not None]
        listings = [self._upsert_listing(item, match) for item, match in wanted]
        self.session.flush()  # the new listings get their ids
        for (item, match), (listing, created) in zip(wanted, listings, strict=True):
            assert listing.id is not None
            if created:
                self.created_ids.append(listing.id)
            self._item(item, match, listing, created)
        self.session.flush()  # the new observations get theirs
        for drafts, listing, obs in self.raised:
            listing.last_observation_id = obs.id
            self.out.events.extend(events_from(drafts, self.source_id, listing, obs, self.now))
        self.out.seen.update(self._not_modified(got))
        # Every listing seen was checked now, changed or not: one UPDATE (per 500), instead of one
        # per listing through the session.
        store.touch_listings(self.session, sorted(self.out.seen), self.now)
        if self.src.kind == "shopify" and got.complete:
            store.mark_gone(self.session, self.listings.values(), self.out.seen)
        self.out.listings = len(self.out.seen)
        return self.out

    def _match(self, item: Fetched) -> Match | None:
        """The item's colorway match, or None when it is not recorded at all."""
        product = item.product
        if not has_information(product):
            return None
        match = match_product(product, self.catalogue.entries)
        if self.src.kind == "shopify" and not match.is_2002r and match.colorway_id is None:
            return None
        return match

    def _item(self, item: Fetched, match: Match, listing: Listing, created: bool) -> None:
        product = item.product
        assert listing.id is not None
        self.out.seen.add(listing.id)
        self.out.offered.append((listing, product))
        colorway = self.catalogue.by_id.get(match.colorway_id or -1)
        ctx = context_for(self.src.name, listing, colorway, self.locale, self.size_system)
        self._observe(listing, product, ctx, match=match, created=created)

    def _upsert_listing(self, item: Fetched, match: Match) -> tuple[Listing, bool]:
        product = item.product
        listing = self.listings.get(item.key)
        created = listing is None
        if listing is None:
            listing = Listing(
                source_id=self.source_id,
                external_id=item.key,
                url=product.url or item.key,
                first_seen_at=self.now,
                last_checked_at=self.now,
            )
        values: dict[str, object] = {
            "title": product.title or listing.title,
            "url": product.url or listing.url,
            "image": product.image or listing.image,
            "style_code": match.style_code or listing.style_code,
            "colorway_id": match.colorway_id,
            "match_method": match.method,
            "discovered": match.colorway_id is None and match.is_2002r,
            "gone": False,
        }
        if item.etag or item.last_modified:
            values.update(etag=item.etag, last_modified=item.last_modified)
        # Only what changed is set: a listing as it was stays out of the session's flush (its
        # last_checked_at is set with every other listing seen, in record).
        for name, value in values.items():
            if getattr(listing, name) != value:
                setattr(listing, name, value)
        self.session.add(listing)
        if created:
            self.listings[item.key] = listing  # the same key again in this check finds it
        return listing, created

    def _observe(
        self, listing: Listing, product: Product, ctx: Context, *, match: Match, created: bool
    ) -> None:
        """A new observation when the state changed (held when suspect), and its events."""
        assert listing.id is not None
        state = state_of(product)
        old_obs = self.previous.get(listing.last_observation_id or -1)
        if listing.id in self.written_now:
            # The same listing twice in one check: nothing new when it says what the first one did;
            # otherwise that first observation is not a previous state (both are this check's).
            if state_of_obs(self.written_now[listing.id]) == state:
                return
            old_obs = None
        if old_obs is not None and old_obs.suspect:
            confirmed = store.last_confirmed(self.session, listing.id, before_id=old_obs.id)
            if state_of_obs(old_obs) == state:
                self._confirm(listing, old_obs, confirmed, state, ctx)
                return
            old_obs = confirmed
        old_state = state_of_obs(old_obs) if old_obs else None
        last_id = None if listing.id in self.written_now else listing.last_observation_id
        if old_state == state and last_id == (old_obs.id if old_obs else None):
            return
        hold = suspicious(
            product.price,
            product.currency,
            list_prices=dict(ctx.list_prices),
            last_price=old_obs.price if old_obs else None,
            last_currency=old_obs.currency if old_obs else None,
        )
        obs = self._write_observation(listing, product, suspect=hold is not None)
        if hold is not None:
            self.out.suspects.append(f"{listing.url}: {hold}")
            self.raised.append(((), listing, obs))  # held: no events, but it is the listing's latest
            return
        if old_state is not None:
            drafts = detect(ctx, old_state, state)
        elif created and not self.baseline:
            drafts = self._first_sight(ctx, state, match)
        else:
            drafts = []
        self.raised.append((drafts, listing, obs))

    def _confirm(
        self, listing: Listing, held: Observation, confirmed: Observation | None, state: State, ctx: Context
    ) -> None:
        """The next check saw the held price again: it is real, and its events fire now."""
        assert listing.id is not None
        held.suspect = False
        self.session.add(held)
        drafts = detect(ctx, state_of_obs(confirmed), state) if confirmed is not None else []
        self.raised.append((drafts, listing, held))

    def _write_observation(self, listing: Listing, product: Product, *, suspect: bool) -> Observation:
        assert listing.id is not None
        obs = Observation(
            listing_id=listing.id,
            run_id=self.run_id,
            observed_at=self.now,
            price=product.price,
            currency=product.currency,
            compare_at=product.compare_at,
            availability=product.availability.value,
            sizes=[s.to_json() for s in product.sizes],
            suspect=suspect,
        )
        self.session.add(obs)
        self.written_now[listing.id] = obs
        self.out.written += 1
        return obs

    def _first_sight(self, ctx: Context, state: State, match: Match) -> list[Draft]:
        """A listing new to a source that has had its baseline: a new listing, or a new colorway."""
        if self.known_codes is None:
            self.known_codes = _known_codes(self.session, exclude=self.created_ids)
        discovered_code = bool(
            match.colorway_id is None and match.style_code and match.style_code not in self.known_codes
        )
        if match.style_code:
            self.known_codes.add(match.style_code)
        if match.colorway_id is None and not match.is_2002r:
            return []
        return detect_new(ctx, state, discovered_code=discovered_code)

    def _not_modified(self, got: Collected) -> list[int]:
        """The listings behind a 304: unchanged, and seen."""
        if not got.not_modified:
            return []
        if self.src.kind != "shopify":
            return [
                i for u in got.not_modified if u in self.listings and (i := self.listings[u].id) is not None
            ]
        # A catalogue page answered 304: its products are unchanged, so every listing of the
        # source not seen on a changed page is still there.
        return [
            lst.id
            for lst in self.listings.values()
            if lst.id not in self.out.seen and lst.id is not None and not lst.gone
        ]


def _known_codes(session: Session, *, exclude: Sequence[int]) -> set[str]:
    stmt = select(Listing.style_code).where(col(Listing.style_code).is_not(None))
    if exclude:
        stmt = stmt.where(col(Listing.id).not_in(list(exclude)))
    return {r for r in session.exec(stmt).all() if r}


def wanted_release(info: ReleaseInfo, src: SourceConfig) -> bool:
    """Only 2002R releases: a style code, "2002R" in the name or link, or the source's query."""
    if info.style_code or mentions_2002r(info.name, info.url):
        return True
    query = (src.query or "").strip().lower()
    return bool(query) and query in (info.name or "").lower()


def record_releases(
    session: Session,
    src: SourceConfig,
    source: SourceRow,
    got: Collected,
    *,
    catalogue: Catalogue,
    config: Config,
    now: datetime,
) -> Recorded:
    """Calendar releases into release records, one per (style code, region) per check."""
    out = Recorded()
    by_code = catalogue.by_code
    keys: set[tuple[str, str]] = set()
    for info in got.releases:
        if not wanted_release(info, src):
            continue
        code, colorway = resolve(info, catalogue.entries, by_code)
        if code is None or (code, info.region) in keys:
            continue  # a 2002R with no style code and no catalogue name cannot be keyed
        keys.add((code, info.region))
        out.events.extend(
            record_release(
                session,
                info,
                style_code=code,
                colorway=colorway,
                source_name=src.name,
                source_id=source.id,
                config=config,
                now=now,
            )
        )
    out.listings = len(keys)
    return out
