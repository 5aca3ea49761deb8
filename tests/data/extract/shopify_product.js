{"id": 7, "title": "New Balance 2002R Protection Pack Phantom", "handle": "nb-2002r-phantom", "vendor": "New Balance",
 "tags": ["2002R"], "published_at": "2026-04-02T10:00:00-04:00", "available": true,
 "price": 15000, "compare_at_price": 17000,
 "featured_image": "//cdn.shop.example/phantom.jpg",
 "options": [{"name": "Size", "position": 1, "values": ["9", "10"]}],
 "variants": [
  {"id": 71, "title": "9", "option1": "9", "sku": "M2002RDJ-9", "price": 15000, "compare_at_price": 17000, "available": true},
  {"id": 72, "title": "10", "option1": "10", "sku": "M2002RDJ-10", "price": 15000, "compare_at_price": 17000, "available": false}
 ]}
