"""Render the demo shops' responses: Shopify JSON and .js, product pages with JSON-LD, bench pages."""

from __future__ import annotations

import html
import json
from decimal import Decimal
from typing import Any

from tracker.demo.catalogue import SIZES, DemoProduct

_CREATED = "2024-02-20T09:00:00-05:00"
_UPDATED = "2024-03-01T10:00:00-05:00"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def image_url(base: str, product: DemoProduct) -> str:
    """The product image, served by the demo store itself so nothing leaves the machine."""
    return f"{base}/static/{product.style_code.lower()}.svg"


def _sizes(product: DemoProduct) -> list[str]:
    return list(product.stock)


def shopify_product(product: DemoProduct, base: str) -> dict[str, Any]:
    """A product as Shopify's /products.json lists it (prices as decimal strings)."""
    variants = []
    for position, size in enumerate(_sizes(product), start=1):
        variants.append(
            {
                "id": product.variant_id(size),
                "title": size,
                "option1": size,
                "option2": None,
                "option3": None,
                "sku": product.sku(size),
                "requires_shipping": True,
                "taxable": True,
                "featured_image": None,
                "available": product.stock[size],
                "price": _money(product.price),
                "grams": 900,
                "compare_at_price": None if product.compare_at is None else _money(product.compare_at),
                "position": position,
                "product_id": product.id,
                "created_at": _CREATED,
                "updated_at": _UPDATED,
            }
        )
    return {
        "id": product.id,
        "title": product.title,
        "handle": product.handle,
        "body_html": f"<p>{html.escape(product.title)} in {html.escape(product.colour)}.</p>",
        "published_at": product.published_at,
        "created_at": _CREATED,
        "updated_at": _UPDATED,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "tags": list(product.tags),
        "variants": variants,
        "images": [
            {
                "id": product.id * 10,
                "created_at": _CREATED,
                "position": 1,
                "updated_at": _UPDATED,
                "product_id": product.id,
                "variant_ids": [],
                "src": image_url(base, product),
                "width": 1200,
                "height": 1200,
            }
        ],
        "options": [{"name": "Size", "position": 1, "values": _sizes(product)}],
    }


def shopify_js(product: DemoProduct, base: str) -> dict[str, Any]:
    """A product as Shopify's /products/<handle>.js returns it (prices in integer cents)."""
    price = _cents(product.price)
    compare = None if product.compare_at is None else _cents(product.compare_at)
    variants = []
    for size in _sizes(product):
        variants.append(
            {
                "id": product.variant_id(size),
                "title": size,
                "option1": size,
                "option2": None,
                "option3": None,
                "sku": product.sku(size),
                "requires_shipping": True,
                "taxable": True,
                "featured_image": None,
                "available": product.stock[size],
                "name": f"{product.title} - {size}",
                "public_title": size,
                "options": [size],
                "price": price,
                "weight": 900,
                "compare_at_price": compare,
                "inventory_management": "shopify",
                "barcode": None,
            }
        )
    image = image_url(base, product).split(":", 1)[1]  # Shopify gives protocol-relative URLs here
    return {
        "id": product.id,
        "title": product.title,
        "handle": product.handle,
        "description": f"<p>{html.escape(product.title)} in {html.escape(product.colour)}.</p>",
        "published_at": product.published_at,
        "created_at": _CREATED,
        "vendor": product.vendor,
        "type": product.product_type,
        "tags": list(product.tags),
        "price": price,
        "price_min": price,
        "price_max": price,
        "available": product.available(),
        "price_varies": False,
        "compare_at_price": compare,
        "compare_at_price_min": compare or 0,
        "compare_at_price_max": compare or 0,
        "compare_at_price_varies": False,
        "variants": variants,
        "images": [image],
        "featured_image": image,
        "options": [{"name": "Size", "position": 1, "values": _sizes(product)}],
        "url": f"/products/{product.handle}",
    }


def _availability(in_stock: bool) -> str:
    return "https://schema.org/InStock" if in_stock else "https://schema.org/OutOfStock"


def _jsonld(data: dict[str, Any]) -> str:
    # "</" inside a script would end it early.
    return json.dumps(data, indent=1).replace("</", "<\\/")


def _size_buttons(product: DemoProduct) -> str:
    out = []
    for size, ok in product.stock.items():
        state = "" if ok else " disabled"
        label = size if ok else f"{size} (sold out)"
        css = "size" if ok else "size unavailable"
        out.append(f'<button class="{css}" data-size="{size}"{state}>{label}</button>')
    return "\n        ".join(out)


def _price_html(product: DemoProduct, symbol: str = "$") -> str:
    if product.compare_at is not None and product.compare_at > product.price:
        return (
            f'<span class="price sale">{symbol}{_money(product.price)}</span> '
            f'<s class="price compare-at">{symbol}{_money(product.compare_at)}</s>'
        )
    return f'<span class="price">{symbol}{_money(product.price)}</span>'


def _page(title: str, shop: str, body: str, jsonld: str, base: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{html.escape(title)} | {shop}</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <script type="application/ld+json">
{jsonld}
  </script>
</head>
<body>
  <header><a href="{base}/">{shop}</a>
    <nav><a href="#">Men</a> <a href="#">Women</a> <a href="#">Sale</a></nav></header>
  <main>
{body}
  </main>
  <footer>{shop} is a demo shop served on this machine; nothing here is for sale.</footer>
</body>
</html>
"""


def boutique_page(product: DemoProduct, base: str) -> str:
    """The boutique's HTML product page: a Product with one Offer per variant."""
    url = f"{base}/boutique/products/{product.handle}"
    offers = [
        {
            "@type": "Offer",
            "sku": product.sku(size),
            "name": size,
            "price": _money(product.price),
            "priceCurrency": "USD",
            "availability": _availability(ok),
            "url": f"{url}?variant={product.variant_id(size)}",
        }
        for size, ok in product.stock.items()
    ]
    data = {
        "@context": "http://schema.org/",
        "@type": "Product",
        "name": product.title,
        "url": url,
        "sku": product.style_code,
        "image": [image_url(base, product)],
        "description": f"{product.title} in {product.colour}.",
        "brand": {"@type": "Brand", "name": product.vendor},
        "offers": offers,
    }
    button = (
        '<button type="submit" name="add" class="add-to-cart">Add to cart</button>'
        if product.available()
        else '<button type="submit" name="add" class="add-to-cart" disabled>Sold out</button>'
    )
    body = f"""    <h1 class="product-title">{html.escape(product.title)}</h1>
    <p class="colour">{html.escape(product.colour)}</p>
    <div class="product-price">{_price_html(product)}</div>
    <form action="/boutique/cart/add" method="post">
      <div class="sizes">
        {_size_buttons(product)}
      </div>
      {button}
    </form>
    <img src="{image_url(base, product)}" alt="{html.escape(product.title)}">"""
    return _page(product.title, "Demo Boutique", body, _jsonld(data), base)


def brand_url(base: str, product: DemoProduct) -> str:
    """The brand store's product page URL: /brand/pd/<slug>/<style>.html."""
    return f"{base}/brand/pd/{product.slug}/{product.style_code}.html"


def brand_page(product: DemoProduct, base: str) -> str:
    """The brand store's product page: JSON-LD ProductGroup/hasVariant or Product + per-size Offers."""
    url = brand_url(base, product)
    name = f"{product.title} {product.colour}"
    brand = {"@type": "Brand", "name": "New Balance"}
    if product.layout == "group":
        data: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "ProductGroup",
            "name": name,
            "productGroupID": product.style_code,
            "url": url,
            "image": image_url(base, product),
            "brand": brand,
            "color": product.colour,
            "variesBy": ["https://schema.org/size"],
            "hasVariant": [
                {
                    "@type": "Product",
                    "sku": product.sku(size),
                    "name": f"{name} - {size}",
                    "size": size,
                    "offers": {
                        "@type": "Offer",
                        "price": _money(product.price),
                        "priceCurrency": "USD",
                        "availability": _availability(ok),
                        "url": f"{url}?dwvar_{product.style_code}_size={size}",
                    },
                }
                for size, ok in product.stock.items()
            ],
        }
    else:
        data = {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": name,
            "sku": product.style_code,
            "mpn": product.style_code,
            "url": url,
            "image": image_url(base, product),
            "brand": brand,
            "color": product.colour,
            "offers": [
                {
                    "@type": "Offer",
                    "sku": product.sku(size),
                    "name": size,
                    "price": _money(product.price),
                    "priceCurrency": "USD",
                    "availability": _availability(ok),
                }
                for size, ok in product.stock.items()
            ],
        }
    button = (
        '<button class="add-to-cart" type="button">Add to Cart</button>'
        if product.available()
        else '<button class="add-to-cart" type="button" disabled>Sold Out</button>'
        '\n    <p class="stock-message">This item is currently sold out.</p>'
    )
    body = f"""    <h1 class="product-name">{html.escape(product.title)}</h1>
    <p class="color">{html.escape(product.colour)}</p>
    <p class="style">Style #{product.style_code}</p>
    <div class="prices">{_price_html(product)}</div>
    <div class="select-size">
        {_size_buttons(product)}
    </div>
    {button}
    <img src="{image_url(base, product)}" alt="{html.escape(name)}">"""
    return _page(name, "Demo Brand Store", body, _jsonld(data), base)


def _base36(value: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while value:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return out.rjust(width, "0")


def bench_style_code(i: int) -> str:
    """A distinct 2002R-shaped style code for bench page i (M2002R000, M2002R001...)."""
    return "M2002R" + _base36(i, 3)


_FILLER = (
    "The 2002R pairs the upper of the 2010 2002 with the ABZORB and N-ERGY cushioning of the 860v2. "
    "Suede and mesh overlays, a tonal N logo and a chunky rubber outsole make it an everyday runner. "
)


def bench_page(i: int, base: str, target_bytes: int = 30_000) -> str:
    """Bench product page i: JSON-LD Product with per-size Offers, padded to about 30 KB."""
    code = bench_style_code(i)
    price = Decimal(130) + Decimal(i % 40)
    url = f"{base}/bench/p/{i}.html"
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": f"2002R Bench Colorway {i}",
        "sku": code,
        "url": url,
        "brand": {"@type": "Brand", "name": "New Balance"},
        "offers": [
            {
                "@type": "Offer",
                "sku": f"{code}-{round(float(size) * 10):03d}",
                "name": size,
                "price": _money(price),
                "priceCurrency": "USD",
                "availability": _availability((i + n) % 5 != 0),
            }
            for n, size in enumerate(SIZES)
        ],
    }
    related = "\n".join(
        f'      <li class="related"><a href="{base}/bench/p/{(i + k) % 997}.html">Related shoe {k}</a></li>'
        for k in range(1, 9)
    )
    head = f"""    <h1 class="product-name">2002R Bench Colorway {i}</h1>
    <p class="style">Style #{code}</p>
    <div class="prices"><span class="price">${_money(price)}</span></div>
    <button class="add-to-cart" type="button">Add to Cart</button>
    <ul class="related-products">
{related}
    </ul>
"""
    page = _page(f"2002R Bench Colorway {i}", "Demo Bench Store", head + "{filler}", _jsonld(data), base)
    need = max(0, target_bytes - len(page))
    paragraph = f'    <p class="copy">{_FILLER}</p>\n'
    count = -(-need // len(paragraph))
    return page.replace("{filler}", paragraph * count)


def image_svg(product_code: str) -> str:
    """A small placeholder picture labelled with the style code."""
    label = html.escape(product_code.upper())
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300" viewBox="0 0 400 300">'
        '<rect width="400" height="300" fill="#d9d6cf"/>'
        '<path d="M60 200 Q120 120 220 140 L330 170 Q350 200 330 215 L70 220 Z" fill="#8c8a85"/>'
        f'<text x="200" y="270" font-family="sans-serif" font-size="28" text-anchor="middle">{label}</text>'
        "</svg>"
    )


ROBOTS_TXT = "User-agent: *\nDisallow: /boutique/cart\nDisallow: /boutique/checkout\nAllow: /\n"


def release_dates_page(rows: list[tuple[str, str, str, str]], base: str) -> str:
    """A release-dates page in the release-box layout: name in h2 a, price, date, region."""
    boxes = "\n".join(
        f"""    <div class="releases-box" data-region="{html.escape(region)}">
      <h2><a href="{base}/calendar/release/{i}">{html.escape(name)}</a></h2>
      <span class="release-price">{html.escape(price)}</span>
      <span class="release-date">{html.escape(when)}</span>
    </div>"""
        for i, (name, price, when, region) in enumerate(rows)
    )
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Release dates | Demo Calendar</title></head>
<body>
  <h1>Sneaker release dates</h1>
  <main>
{boxes}
  </main>
</body>
</html>
"""
