"""Vocabulary of the generated intranets. Dev and test draw from disjoint pools (people, teams,
buildings, wiki topics, supplies), so results on test cannot be memorised from dev."""

from __future__ import annotations

FIRST_NAMES: dict[str, list[str]] = {
    "dev": [
        "Anna", "Ben", "Clara", "David", "Elena", "Frank", "Grace", "Hugo", "Iris", "Jon", "Karen", "Leo",
        "Maya", "Nils", "Olga", "Paul", "Rosa", "Sam", "Tara", "Victor", "Wendy", "Yusuf", "Zoe", "Omar",
    ],
    "test": [
        "Amara", "Bastian", "Celine", "Dario", "Esme", "Fabian", "Greta", "Hamid", "Ilse", "Jasper", "Kira",
        "Lorenzo", "Mirela", "Nadia", "Otto", "Pilar", "Quentin", "Rhea", "Stellan", "Thea", "Ugo", "Vesna",
        "Wim", "Ximena",
    ],
}

LAST_NAMES: dict[str, list[str]] = {
    "dev": [
        "Meyer", "Berg", "Carter", "Dunn", "Ellis", "Fischer", "Grant", "Hale", "Ibsen", "Jensen", "Keller",
        "Lund", "Moss", "Novak", "Olsen", "Price", "Reid", "Stone", "Turner", "Vance", "Weber", "Young",
    ],
    "test": [
        "Achebe", "Brandt", "Costa", "Duval", "Eriksen", "Ferreira", "Gallo", "Horvat", "Ivanova", "Jovanic",
        "Kaur", "Lombardi", "Mendes", "Nieminen", "Orsini", "Pereira", "Rinaldi", "Sato", "Tamm", "Urbano",
        "Valdez", "Wozniak",
    ],
}

# First names that are easy to confuse, for near-namesake distractors.
NEAR_FIRST: dict[str, str] = {
    "Jon": "John", "Anna": "Ana", "Clara": "Klara", "Karen": "Karin", "Elena": "Helena", "Leo": "Leon",
    "Sam": "Samuel", "Olga": "Olya", "Rosa": "Rose", "Victor": "Viktor", "Maya": "Maja", "Zoe": "Zoey",
    "Amara": "Amira", "Celine": "Selene", "Dario": "Mario", "Esme": "Esma", "Greta": "Gretta", "Ilse": "Else",
    "Kira": "Keira", "Nadia": "Nadja", "Rhea": "Rea", "Thea": "Tea", "Otto": "Otis", "Pilar": "Pilara",
}

TEAMS: dict[str, list[str]] = {
    "dev": ["Finance", "Facilities", "Platform Engineering", "Customer Success", "Legal", "People Operations",
            "Data Science", "Procurement", "Security"],
    "test": ["Treasury", "Site Services", "Infrastructure", "Client Support", "Compliance", "Talent",
             "Analytics", "Purchasing", "Risk Management"],
}

TITLES = ["Analyst", "Specialist", "Engineer", "Coordinator", "Associate", "Advisor", "Senior Analyst",
          "Senior Engineer", "Consultant"]

BUILDINGS: dict[str, list[tuple[str, str]]] = {  # code, name
    "dev": [("N", "North House"), ("S", "South Wing"), ("R", "Riverside Hall")],
    "test": [("H", "Harbour Point"), ("M", "Millbrook Centre"), ("K", "Kestrel Court")],
}

ROOM_NAMES: dict[str, list[str]] = {
    "dev": ["Aspen", "Birch", "Cedar", "Elm", "Fir", "Hazel", "Juniper", "Larch", "Maple", "Oak", "Pine", "Rowan",
            "Spruce", "Willow", "Yew", "Alder", "Beech", "Cypress", "Hawthorn", "Linden", "Poplar", "Sequoia"],
    "test": ["Amber", "Basalt", "Cobalt", "Flint", "Garnet", "Jasper", "Onyx", "Opal", "Quartz", "Ruby", "Slate",
             "Topaz", "Agate", "Beryl", "Coral", "Jade", "Marble", "Obsidian", "Pearl", "Zircon", "Ivory", "Granite"],
}

EQUIPMENT = ["projector", "video conferencing", "whiteboard", "TV screen"]

HOWTOS: dict[str, list[str]] = {
    "dev": ["Request VPN access", "File an expense report", "Set up the office printer", "Request a parking permit",
            "Order a new laptop", "Onboard a new hire", "Book business travel", "Reset your badge PIN",
            "Request a standing desk", "Archive old project files"],
    "test": ["Submit a purchase request", "Enrol in the pension plan", "Connect to the guest Wi-Fi",
             "Request a software licence", "Report a security incident", "Claim mileage", "Ship a parcel",
             "Request a second monitor", "Set up two-factor login", "Register a company car"],
}
TITLE_VARIANTS = ["{t} (contractors)", "{t}: old process", "{t} for interns"]

HOLIDAYS: dict[str, list[str]] = {
    "dev": ["Founders' Day", "Spring Holiday", "Midsummer Day", "Harvest Day", "Company Offsite Day",
            "Autumn Holiday", "Winter Break", "Wellbeing Day", "Volunteering Day", "Lantern Day"],
    "test": ["Charter Day", "Blossom Holiday", "Solstice Day", "Regatta Day", "Heritage Day", "Remembrance Day",
             "Year-End Break", "Recharge Day", "Community Day", "Lighthouse Day"],
}

SUPPLY_KINDS: dict[str, list[tuple[str, str]]] = {  # kind, pack description
    "dev": [("whiteboard markers", "pack of 8"), ("sticky notes", "pack of 12 pads"),
            ("printer paper", "box of 5 reams"), ("ballpoint pens", "box of 50"), ("AA batteries", "pack of 24"),
            ("spiral notebooks", "pack of 10")],
    "test": [("highlighters", "pack of 10"), ("desk organisers", "set of 3"), ("toner cartridges", "single"),
             ("padded envelopes", "box of 100"), ("USB-C cables", "pack of 5"), ("binder clips", "tub of 60")],
}
BRANDS: dict[str, list[str]] = {
    "dev": ["Brightline", "OfficePro", "Stackwell", "Inkwise"],
    "test": ["Papyra", "Deskcraft", "Norda", "Clipmore"],
}

COMPANIES: dict[str, list[str]] = {
    "dev": ["Fjord Analytics", "Bluepeak Consulting", "Larkspur Legal", "Quantum Freight", "Orchid Labs"],
    "test": ["Tidewater Audit", "Granite Systems", "Meridian Health", "Copperleaf Energy", "Vireo Media"],
}
VISITORS: dict[str, list[str]] = {
    "dev": ["Helen Marsh", "Ivan Petrenko", "Lucy Tran", "Marco Bellini", "Sofia Lindgren"],
    "test": ["Ayo Bankole", "Beatriz Saldanha", "Conor Walsh", "Dalia Nasser", "Emil Hartmann"],
}
MEETINGS = ["Quarterly planning", "Vendor review", "Design workshop", "Budget review", "Project kickoff",
            "Incident retrospective", "Hiring panel", "Customer briefing"]

COMPANY: dict[str, list[tuple[str, str]]] = {  # company name, email domain
    "dev": [("Lumen & Vale", "lumenvale.example"), ("Northwind Traders", "northwind.example")],
    "test": [("Osprey Industries", "osprey.example"), ("Bellweather Group", "bellweather.example")],
}
