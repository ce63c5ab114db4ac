"""Name pools and product catalogues. Dev and test draw from disjoint pools, so a result on
test cannot come from having seen the same customers and products on dev."""

from __future__ import annotations

from typing import Any

FIRST_NAMES: dict[str, list[str]] = {
    "dev": [
        "Olivia", "Liam", "Emma", "Noah", "Ava", "Mason", "Sophia", "Lucas", "Isabella", "Ethan",
        "Mia", "James", "Harper", "Benjamin", "Amelia", "Henry", "Evelyn", "Daniel", "Abigail", "Samuel",
    ],
    "test": [
        "Priya", "Mateo", "Chloe", "Tariq", "Ingrid", "Kenji", "Lucia", "Dmitri", "Aisha", "Rafael",
        "Freya", "Oren", "Naomi", "Bruno", "Yara", "Felix", "Leila", "Tobias", "Zara", "Anton",
    ],
}

LAST_NAMES: dict[str, list[str]] = {
    "dev": [
        "Johnson", "Miller", "Garcia", "Davis", "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore",
        "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright",
    ],
    "test": [
        "Okafor", "Lindqvist", "Moreau", "Castellano", "Nakamura", "Petrov", "Haddad", "Sorensen", "Albrecht",
        "Quintero", "Fitzgerald", "Varga", "Oyelaran", "Brennan", "Kowalczyk", "Delacroix", "Iyer", "Romero",
        "Halvorsen", "Mbeki",
    ],
}

EMAIL_DOMAINS: dict[str, list[str]] = {
    "dev": ["example.com", "mailbox.test", "inbox.example"],
    "test": ["example.org", "postbox.test", "webmail.example"],
}

STREETS: dict[str, list[str]] = {
    "dev": ["Elm Street", "Maple Avenue", "Oak Lane", "Cedar Road", "Pine Street", "Willow Drive", "Birch Court"],
    "test": ["Harbor View Road", "Quarry Lane", "Lantern Street", "Foundry Avenue", "Orchard Way", "Mill Road"],
}

CITIES: dict[str, list[tuple[str, str, str]]] = {  # city, state, zip prefix
    "dev": [("Portland", "OR", "972"), ("Austin", "TX", "787"), ("Denver", "CO", "802"), ("Madison", "WI", "537")],
    "test": [("Savannah", "GA", "314"), ("Tucson", "AZ", "857"), ("Burlington", "VT", "054"), ("Boise", "ID", "837")],
}

STORES: dict[str, list[str]] = {
    "dev": ["Northwind Outfitters", "Trailhead Supply Company"],
    "test": ["Hearth & Home Goods", "Copperline Kitchenware"],
}

SIZES = ["Small", "Medium", "Large", "X-Large"]

# Each product: name, variant attribute, variant values, price range in dollars.
CATALOGUES: dict[str, list[dict[str, Any]]] = {
    "dev": [
        {"name": "Trail Running Shoes", "attribute": "size", "values": ["US 8", "US 9", "US 10", "US 11"],
         "price": (89, 149)},
        {"name": "Merino Wool Hoodie", "attribute": "size", "values": SIZES, "price": (69, 119)},
        {"name": "Rain Shell Jacket", "attribute": "color", "values": ["Navy", "Olive", "Charcoal", "Crimson"],
         "price": (129, 229)},
        {"name": "Insulated Water Bottle", "attribute": "color", "values": ["Teal", "Sand", "Black"],
         "price": (24, 39)},
        {"name": "Hiking Backpack 30L", "attribute": "color", "values": ["Forest", "Slate", "Amber"],
         "price": (99, 169)},
        {"name": "Quick-Dry Shorts", "attribute": "size", "values": SIZES, "price": (34, 54)},
        {"name": "Camp Headlamp", "attribute": "color", "values": ["Orange", "Graphite"], "price": (19, 45)},
        {"name": "Down Sleeping Bag", "attribute": "size", "values": ["Regular", "Long"], "price": (219, 389)},
        {"name": "Trekking Poles", "attribute": "color", "values": ["Silver", "Cobalt"], "price": (59, 99)},
        {"name": "Fleece Beanie", "attribute": "color", "values": ["Heather Grey", "Mustard", "Navy"],
         "price": (18, 29)},
        {"name": "Two-Person Tent", "attribute": "color", "values": ["Sage", "Rust"], "price": (249, 429)},
        {"name": "Wool Hiking Socks", "attribute": "size", "values": ["Small", "Medium", "Large"],
         "price": (16, 26)},
    ],
    "test": [
        {"name": "Cast Iron Skillet", "attribute": "size", "values": ["8 inch", "10 inch", "12 inch"],
         "price": (29, 69)},
        {"name": "Linen Duvet Cover", "attribute": "size", "values": ["Twin", "Queen", "King"],
         "price": (119, 219)},
        {"name": "Ceramic Dinner Plates (set of 4)", "attribute": "color", "values": ["Ivory", "Slate", "Sage"],
         "price": (44, 79)},
        {"name": "Espresso Machine", "attribute": "color", "values": ["Brushed Steel", "Matte Black"],
         "price": (289, 549)},
        {"name": "Chef's Knife", "attribute": "size", "values": ["6 inch", "8 inch", "10 inch"],
         "price": (59, 139)},
        {"name": "Bath Towel Set", "attribute": "color", "values": ["Cloud White", "Dusk Blue", "Terracotta"],
         "price": (39, 89)},
        {"name": "Stand Mixer", "attribute": "color", "values": ["Pistachio", "Cream", "Cherry"],
         "price": (259, 459)},
        {"name": "Glass Storage Jars", "attribute": "size", "values": ["Small", "Medium", "Large"],
         "price": (19, 39)},
        {"name": "Wool Throw Blanket", "attribute": "color", "values": ["Oat", "Moss", "Charcoal"],
         "price": (69, 129)},
        {"name": "Pour-Over Coffee Kettle", "attribute": "color", "values": ["Copper", "Matte White"],
         "price": (49, 99)},
        {"name": "Dutch Oven 5qt", "attribute": "color", "values": ["Flame", "Indigo", "Ivory"],
         "price": (179, 329)},
        {"name": "Bamboo Cutting Board", "attribute": "size", "values": ["Medium", "Large"], "price": (22, 45)},
    ],
}
