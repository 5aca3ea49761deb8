"""The demo store's catalogue and scripted timeline: what each shop sells at each step."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

# US men's sizes as New Balance sells the 2002R.
SIZES: tuple[str, ...] = ("7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12", "13")


@dataclass(frozen=True)
class DemoProduct:
    """One product as a demo shop lists it; `stock` maps each size to whether it can be bought."""

    id: int
    handle: str
    title: str
    style_code: str
    price: Decimal
    colour: str
    compare_at: Decimal | None = None
    vendor: str = "New Balance"
    product_type: str = "Footwear"
    tags: tuple[str, ...] = ()
    stock: dict[str, bool] = field(default_factory=dict)
    published_at: str = "2024-03-01T10:00:00-05:00"
    slug: str = ""
    layout: str = "group"  # brand store page: "group" (ProductGroup) or "offers" (Product + Offers)

    def is_2002r(self) -> bool:
        """Whether this is a 2002R (the boutique also sells other models)."""
        return "2002R" in self.style_code.upper()

    def available(self) -> bool:
        """Whether any size can be bought."""
        return any(self.stock.values())

    def sku(self, size: str) -> str:
        """The variant SKU, e.g. M2002RDA-095 for size 9.5."""
        try:
            return f"{self.style_code}-{round(float(size) * 10):03d}"
        except ValueError:  # letter sizes (socks: M, L)
            return f"{self.style_code}-{size}"

    def variant_id(self, size: str) -> int:
        """A stable variant id derived from the product id and the size."""
        return self.id * 100 + SIZES.index(size) + 1 if size in SIZES else self.id * 100 + 99


@dataclass(frozen=True)
class Step:
    """One point of the timeline: when it starts (store seconds) and what changes."""

    index: int
    offset: float
    description: str


def _stock(*, missing: tuple[str, ...] = ()) -> dict[str, bool]:
    return {size: size not in missing for size in SIZES}


PP = Decimal("150.00")
GR = Decimal("130.00")

# Boutique (Shopify) products at step 0. Non-2002R products are here so filtering matters.
_BOUTIQUE: tuple[DemoProduct, ...] = (
    DemoProduct(
        id=7001,
        handle="new-balance-2002r-protection-pack-rain-cloud-m2002rda",
        title='New Balance 2002R Protection Pack "Rain Cloud"',
        style_code="M2002RDA",
        price=PP,
        colour="Rain Cloud / Grey",
        tags=("2002R", "Protection Pack", "New Balance", "Footwear"),
        stock=_stock(missing=("13", "7")),
    ),
    DemoProduct(
        id=7002,
        handle="new-balance-2002r-protection-pack-phantom-m2002rdb",
        title='New Balance 2002R Protection Pack "Phantom"',
        style_code="M2002RDB",
        price=PP,
        colour="Phantom / Black",
        tags=("2002R", "Protection Pack", "New Balance", "Footwear"),
        stock=_stock(missing=("8",)),
    ),
    DemoProduct(
        id=7003,
        handle="new-balance-2002r-grey-m2002rho",
        title='New Balance 2002R "Grey"',
        style_code="M2002RHO",
        price=GR,
        colour="Grey",
        tags=("2002R", "New Balance", "Footwear"),
        stock=_stock(missing=("12", "13")),
    ),
    DemoProduct(
        id=7004,
        handle="new-balance-2002r-sea-salt-white-m2002rcc",
        title='New Balance 2002R "Sea Salt/White"',
        style_code="M2002RCC",
        price=GR,
        colour="Sea Salt / White",
        tags=("2002R", "New Balance", "Footwear"),
        stock=_stock(),
    ),
    DemoProduct(
        id=7101,
        handle="new-balance-made-in-usa-990v6-grey-m990gl6",
        title="New Balance Made in USA 990v6 Grey",
        style_code="M990GL6",
        price=Decimal("199.99"),
        colour="Grey",
        tags=("990", "Made in USA", "New Balance", "Footwear"),
        stock=_stock(),
    ),
    DemoProduct(
        id=7102,
        handle="new-balance-550-white-green-bb550wt1",
        title="New Balance 550 White Green",
        style_code="BB550WT1",
        price=Decimal("110.00"),
        colour="White / Green",
        tags=("550", "New Balance", "Footwear"),
        stock=_stock(missing=("9", "9.5")),
    ),
    DemoProduct(
        id=7103,
        handle="new-balance-essentials-crew-socks-3-pack",
        title="New Balance Essentials Crew Socks 3-Pack",
        style_code="LAS95233",
        price=Decimal("16.00"),
        colour="White",
        product_type="Accessories",
        tags=("Accessories", "New Balance"),
        stock={"M": True, "L": True},
    ),
)

# Appears at the boutique at step 4: a 2002R colorway the demo config does not list.
NEW_COLORWAY = DemoProduct(
    id=7005,
    handle="new-balance-2002r-black-castlerock-m2002rfb",
    title='New Balance 2002R "Black Castlerock"',
    style_code="M2002RFB",
    price=GR,
    colour="Black / Castlerock",
    tags=("2002R", "New Balance", "Footwear", "New Arrival"),
    stock=_stock(),
    published_at="2024-03-08T10:00:00-05:00",
)

# Brand store (JSON-LD product pages) at step 0.
_BRAND: tuple[DemoProduct, ...] = (
    DemoProduct(
        id=8001,
        handle="m2002rda",
        slug="2002r-protection-pack-rain-cloud",
        title="2002R Protection Pack",
        style_code="M2002RDA",
        price=PP,
        colour="Rain Cloud with Castlerock",
        stock=_stock(missing=("11.5",)),
        layout="group",
    ),
    DemoProduct(
        id=8002,
        handle="m2002rdb",
        slug="2002r-protection-pack-phantom",
        title="2002R Protection Pack",
        style_code="M2002RDB",
        price=PP,
        colour="Phantom with Black",
        stock=_stock(),
        layout="offers",
    ),
    DemoProduct(
        id=8003,
        handle="m2002rdc",
        slug="2002r-protection-pack-sea-salt",
        title="2002R Protection Pack",
        style_code="M2002RDC",
        price=PP,
        colour="Sea Salt with Moonbeam",
        stock=_stock(missing=("7",)),
        layout="group",
    ),
    DemoProduct(
        id=8004,
        handle="m2002rho",
        slug="2002r",
        title="2002R",
        style_code="M2002RHO",
        price=GR,
        colour="Grey with Silver",
        stock=_stock(),
        layout="offers",
    ),
)

STEP_DESCRIPTIONS: tuple[str, ...] = (
    "Baseline: Protection Pack at $150 and general releases at $130 at both shops",
    'Markdown: "Phantom" (M2002RDB) drops from $150 to $119.99 at the Demo Boutique',
    'Sell-out: "Sea Salt" (M2002RDC) sells out in every size at the Demo Brand Store',
    'Restock: "Sea Salt" (M2002RDC) size 10 is back at the Demo Brand Store',
    'New colorway: "Black Castlerock" (M2002RFB) appears at the Demo Boutique',
)

MARKDOWN_PRICE = Decimal("119.99")
RESTOCKED_SIZE = "10"


def steps(step_seconds: float) -> list[Step]:
    """The timeline: step i starts i * step_seconds store seconds after the store starts."""
    return [Step(i, i * step_seconds, text) for i, text in enumerate(STEP_DESCRIPTIONS)]


def boutique_products(step: int) -> list[DemoProduct]:
    """What the Shopify boutique lists at a step."""
    out: list[DemoProduct] = []
    for product in _BOUTIQUE:
        if product.style_code == "M2002RDB" and step >= 1:
            out.append(replace(product, price=MARKDOWN_PRICE, compare_at=PP))
        else:
            out.append(product)
    if step >= 4:
        # New arrivals go first, as Shopify's default sort (newest published) shows them.
        out.insert(0, NEW_COLORWAY)
    return out


def brand_products(step: int) -> list[DemoProduct]:
    """What the brand store's product pages show at a step."""
    out: list[DemoProduct] = []
    for product in _BRAND:
        if product.style_code == "M2002RDC" and step >= 2:
            stock = dict.fromkeys(SIZES, False)
            if step >= 3:
                stock[RESTOCKED_SIZE] = True
            out.append(replace(product, stock=stock))
        else:
            out.append(product)
    return out


# -- a scripted release, after the timeline above ---------------------------------------------

LAUNCH_PRODUCT = DemoProduct(
    id=7006,
    handle="new-balance-2002r-protection-pack-ripstop-m2002rdq",
    title='New Balance 2002R Protection Pack "Ripstop Grey"',
    style_code="M2002RDQ",
    price=Decimal("170.00"),
    colour="Ripstop Grey",
    tags=("2002R", "Protection Pack", "New Balance", "Footwear"),
    stock=_stock(),
    published_at="2024-03-10T10:00:00-05:00",
)

LAUNCH_PHASES: tuple[str, ...] = (
    "Nothing announced yet",
    'Announced: the release calendar dates "Ripstop Grey" (M2002RDQ)',
    "Moved: the calendar brings the release forward and gives its time",
    "Coming soon: the boutique publishes it with every size unavailable",
    "Live: the boutique has it in stock",
)


@dataclass
class Launch:
    """A release the demo store plays out in phases (see LAUNCH_PHASES) after its timeline.

    `announced` is the first date the calendar gives (a day, no time); `moved_to` the moment it
    is moved to (earlier, with a time). `phase` None follows the store clock: phase k starts k
    steps after the last timeline step.
    """

    announced: date
    moved_to: datetime
    timezone: str = "America/New_York"
    phase: int | None = None

    def calendar_products(self, phase: int) -> list[tuple[str, str, str, str]]:
        """(name, price, date text, region) rows of the release-dates page at a phase."""
        rows = [("New Balance 990v6 Made in USA Grey", "$199.99", "TBC", "US")]
        if phase >= 2:
            local = self.moved_to.astimezone(ZoneInfo(self.timezone))
            when = local.strftime("%B %d, %Y %I:%M %p ") + (local.tzname() or "")
            rows.append((LAUNCH_PRODUCT.title + " M2002RDQ", "$170", when, "US"))
        elif phase >= 1:
            when = self.announced.strftime("%B %d, %Y")
            rows.append((LAUNCH_PRODUCT.title + " M2002RDQ", "$170", when, "US"))
        return rows

    def boutique_product(self, phase: int) -> DemoProduct | None:
        """The launch product as the boutique lists it at a phase (None before it appears)."""
        if phase < 3:
            return None
        if phase == 3:
            return replace(
                LAUNCH_PRODUCT, stock=dict.fromkeys(SIZES, False), tags=(*LAUNCH_PRODUCT.tags, "coming soon")
            )
        return LAUNCH_PRODUCT
