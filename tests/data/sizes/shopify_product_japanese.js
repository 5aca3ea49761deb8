{"id": 108, "title": "New Balance 2002R Protection Pack Rain Cloud", "handle": "m2002rda", "vendor": "New Balance",
 "tags": ["2002R"], "price": 1650000, "available": true,
 "options": ["サイズ"],
 "variants": [
  {"id": 1081, "title": "27.0", "option1": "27.0", "option2": null, "option3": null, "sku": "M2002RDA-270", "price": 1650000, "available": true},
  {"id": 1082, "title": "27.5", "option1": "27.5", "option2": null, "option3": null, "sku": "M2002RDA-275", "price": 1650000, "available": false},
  {"id": 1083, "title": "28.0", "option1": "28.0", "option2": null, "option3": null, "sku": "M2002RDA-280", "price": 1650000, "available": true}
 ]}
