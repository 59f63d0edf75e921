#!/usr/bin/env python3
"""Generates the retail demo data: catalog.json, profiles.jsonl and requests/*.json.

Deterministic: a fixed seed and a fixed reference time, Python standard library only, so
running `python3 examples/generate.py` (from anywhere) rewrites byte-identical files.
`python3 examples/generate.py --profiles N PATH` writes N synthetic profiles to PATH instead
(the batch-plan benchmark, scripts/batch-bench.sh).

The data matches the schemas in policies/retail/schema.policy; see examples/README.md for the
JSON encoding of each type. The first offers of the catalog are the demo catalog of
policies/retail/fixtures.policy, field for field, followed by the fallback content the
decisions name, followed by generated offers.
"""

import json
import os
import sys
import random
from datetime import datetime, timedelta, timezone

SEED = 20261124
# Every relative time (basket timestamps, campaign windows) is relative to this instant, the
# same "now" the policy tests use.
REFERENCE_NOW = datetime(2026, 11, 24, 10, 0, 0, tzinfo=timezone.utc)
PROFILE_COUNT = 5000
GENERATED_OFFERS = 300
# The size of catalog-1000.json, the catalog benchmarks and load tests use.
BENCH_CATALOG_SIZE = 1000

HERE = os.path.dirname(os.path.abspath(__file__))

DAY_MS = 24 * 60 * 60 * 1000

CORE_MARKETS = ["DE", "AT", "FR", "NL", "BE"]
ALL_MARKETS = ["DE", "AT", "CH", "FR", "BE", "NL", "IT", "ES", "PL", "SE"]
MARKET_WEIGHTS = [30, 8, 7, 15, 7, 10, 8, 8, 4, 3]

CATEGORIES = ["running", "outdoor", "yoga", "fitness", "cycling", "swimming", "tennis", "kids", "lifestyle"]
# Interests a profile may have, and the tags that match them.
SUB_INTERESTS = {
    "running": ["running", "trail", "marathon"],
    "outdoor": ["outdoor", "hiking", "camping", "climbing", "ski"],
    "yoga": ["yoga", "pilates"],
    "fitness": ["fitness", "gym", "strength"],
    "cycling": ["cycling", "gravel"],
    "swimming": ["swimming", "triathlon"],
    "tennis": ["tennis", "padel"],
    "kids": ["kids", "school"],
    "lifestyle": ["lifestyle", "eco", "gift"],
}
EMAIL_DOMAINS = ["gmail.com", "web.de", "gmx.de", "outlook.com", "orange.fr", "free.fr",
                 "ziggo.nl", "libero.it", "yahoo.es", "wp.pl", "bluewin.ch", "icloud.com",
                 "t-online.de", "proton.me"]
MUTABLE_TOPICS = ["contest", "kids", "deal", "loyalty", "lifestyle", "ski"]


def ts(dt):
    """RFC 3339, UTC, second precision: 2026-11-01T00:00:00Z."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(y, m, d):
    return datetime(y, m, d, tzinfo=timezone.utc)


def money(x):
    return round(float(x), 2)


# ---- the demo catalog of policies/retail/fixtures.policy ------------------------------------

BASE_OFFER = {
    "id": "base",
    "title": "Base offer",
    "kind": "Discount",
    "priority": 1,
    "margin": 0.0,
    "tier": "Standard",
    "category": "general",
    "tags": [],
    "channels": ["Web", "App", "Email"],
    "placements": [],
    "countries": list(CORE_MARKETS),
    "blocked_countries": [],
    "min_lifetime_value": 0.0,
    "discount_pct": 0.0,
    "starts_at": ts(day(2026, 1, 1)),
    "ends_at": ts(day(2027, 1, 1)),
}


def demo(**fields):
    offer = dict(BASE_OFFER)
    offer.update(fields)
    return offer


DEMO_OFFERS = [
    demo(id="welcome-10", title="10% off your first order", priority=5, margin=4.0,
         tags=["welcome"], placements=["home.hero", "app.home_banner"], max_orders=1,
         discount_pct=10.0),
    demo(id="bf-early-access", title="Black Friday early access", priority=6, margin=6.0,
         tier="Premium", tags=["black-friday", "countdown"], channels=["Web", "App"],
         placements=["home.hero", "app.home_banner"], discount_pct=20.0,
         starts_at=ts(day(2026, 11, 20)), ends_at=ts(day(2026, 11, 28))),
    demo(id="vip-preview", title="Private preview: spring collection", kind="Content",
         priority=7, margin=12.0, tier="Exclusive", tags=["vip", "new-season"],
         placements=["home.hero", "app.home_banner"]),
    demo(id="spring-running", title="New season running shoes", kind="Content", priority=4,
         margin=8.0, category="running", tags=["running", "new-season"], channels=["Web", "App"],
         placements=["home.hero", "home.recs"]),
    demo(id="outdoor-sale-20", title="20% off outdoor gear", priority=5, margin=3.0,
         category="outdoor", tags=["outdoor", "sale", "deal"],
         placements=["home.hero", "home.recs", "email.winback"], discount_pct=20.0),
    demo(id="free-ship-weekend", title="Free shipping this weekend", kind="FreeShipping",
         priority=4, margin=2.0, tags=["shipping", "basket"],
         placements=["checkout.upsell", "email.cart_reminder", "app.home_banner"]),
    demo(id="bundle-socks", title="3 pairs of running socks for the price of 2", kind="Bundle",
         priority=3, margin=9.0, category="running", tags=["running", "basket"],
         channels=["Web", "App"], placements=["checkout.upsell", "home.recs"]),
    demo(id="care-kit-addon", title="Shoe care kit add-on", kind="Bundle", priority=3,
         margin=6.5, category="outdoor", tags=["outdoor", "basket"], channels=["Web", "App"],
         placements=["checkout.upsell"]),
    demo(id="cart-nudge", title="You left something behind", kind="Reminder", priority=5,
         tags=["basket"], channels=["Email", "Push"], placements=["email.cart_reminder"]),
    demo(id="cart-save-10", title="10% off what is in your basket", priority=4, margin=1.0,
         tags=["basket", "deal"], channels=["Email"], placements=["email.cart_reminder"],
         discount_pct=10.0),
    demo(id="winback-20", title="We miss you: 20% off", priority=6, margin=2.0,
         tags=["winback", "deal"], channels=["Email", "Sms"], placements=["email.winback"],
         discount_pct=20.0),
    demo(id="winback-newseason", title="See what is new since your last visit", kind="Content",
         priority=4, margin=5.0, tags=["winback", "new-season"], channels=["Email"],
         placements=["email.winback"]),
    demo(id="loyalty-double-points", title="Double points this week", kind="Loyalty",
         priority=5, margin=3.0, tags=["loyalty", "retention"], channels=["App", "Email"],
         placements=["app.home_banner", "email.winback"]),
    demo(id="yoga-guide", title="Beginner's yoga guide", kind="Content", priority=2,
         margin=1.0, category="yoga", tags=["yoga", "content"], channels=["Web", "App"],
         placements=["home.recs"]),
    demo(id="summer-clearance", title="Summer clearance", priority=9, margin=1.0,
         tags=["sale"], channels=["Web", "App"], placements=["home.hero", "home.recs"],
         discount_pct=10.0, starts_at=ts(day(2026, 6, 1)), ends_at=ts(day(2026, 9, 1))),
    demo(id="prize-draw", title="Win a year of running gear", kind="Content", priority=3,
         category="running", tags=["contest"], channels=["Web", "App"],
         placements=["home.hero"], blocked_countries=["FR", "BE"]),
    demo(id="swiss-ski-days", title="Ski days in the Alps", kind="Content", priority=8,
         margin=4.0, category="outdoor", tags=["ski", "outdoor"], channels=["Web", "App"],
         placements=["home.hero"], countries=["CH"]),
]

# Content the decisions fall back to. Booked on no placement, so never a ranked candidate;
# the runtime serves them by id.
FALLBACKS = [
    ("hero-brand-story", "Our story: gear that lasts", ["Web", "App"]),
    ("recs-bestsellers", "This week's bestsellers", ["Web"]),
    ("checkout-trust-badges", "Free returns, 2-year warranty", ["Web", "App"]),
    ("app-loyalty-points", "Your points balance", ["App"]),
    ("winback-newsletter", "The monthly newsletter", ["Email"]),
    ("cart-reminder-plain", "Your basket is waiting", ["Email"]),
]


def fallback_offers():
    out = []
    for oid, title, channels in FALLBACKS:
        out.append(demo(id=oid, title=title, kind="Content", tags=["fallback"],
                        channels=channels, countries=list(ALL_MARKETS),
                        starts_at=ts(day(2026, 1, 1)), ends_at=ts(day(2030, 1, 1))))
    return out


# ---- generated offers ------------------------------------------------------------------------

# Per placement: (weight, kinds with weights, channels the creative is made for).
PLACEMENTS = {
    "home.hero": (18, [("Content", 4), ("Discount", 4), ("Loyalty", 1)], ["Web", "App"]),
    "home.recs": (22, [("Recommendation", 5), ("Content", 2), ("Discount", 2)], ["Web"]),
    "checkout.upsell": (15, [("Bundle", 5), ("FreeShipping", 1)], ["Web", "App"]),
    "app.home_banner": (15, [("Loyalty", 3), ("Discount", 3), ("FreeShipping", 1), ("Content", 2)], ["App"]),
    "email.winback": (15, [("Discount", 4), ("Content", 2), ("Loyalty", 2)], ["Email"]),
    "email.cart_reminder": (15, [("Reminder", 3), ("Discount", 2), ("FreeShipping", 1)], ["Email"]),
}
# Placements that are often booked together with the main one.
COMPANIONS = {
    "home.hero": ["app.home_banner", "home.recs"],
    "home.recs": ["home.hero", "checkout.upsell"],
    "checkout.upsell": ["home.recs", "email.cart_reminder"],
    "app.home_banner": ["home.hero", "email.winback"],
    "email.winback": ["app.home_banner"],
    "email.cart_reminder": ["checkout.upsell"],
}
KIND_WORDS = {
    "Discount": ["{pct}% off {cat}", "{cat}: {pct}% off this week", "Save {pct}% on {cat}"],
    "FreeShipping": ["Free shipping on {cat}", "Free delivery this week"],
    "Bundle": ["{cat} add-on", "{cat} multi-buy", "Complete your {cat} kit"],
    "Loyalty": ["Double points on {cat}", "Members' {cat} perk", "Bonus points week"],
    "Content": ["The {cat} guide", "New in {cat}", "{cat} stories"],
    "Recommendation": ["Picked for you: {cat}", "Top rated {cat}", "Back in stock: {cat}"],
    "Reminder": ["Still thinking about it?", "Your {cat} basket", "Items in your basket are selling fast"],
}
THEMES = ["new-season", "sale", "deal", "welcome", "winback", "retention", "basket", "loyalty",
          "countdown", "black-friday", "contest", "content", "shipping", "vip", "eco", "gift"]


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.uniform(0, total)
    for item, w in pairs:
        x -= w
        if x <= 0:
            return item
    return pairs[-1][0]


def generated_offer(rng, n):
    placement = weighted(rng, [(p, spec[0]) for p, spec in PLACEMENTS.items()])
    _, kinds, channels = PLACEMENTS[placement]
    kind = weighted(rng, kinds)
    category = rng.choice(CATEGORIES + ["general"])
    cat_word = "everything" if category == "general" else category

    placements = [placement]
    for extra in COMPANIONS[placement]:
        if rng.random() < 0.2:
            placements.append(extra)
    channel_set = list(channels)
    for p in placements[1:]:
        for c in PLACEMENTS[p][2]:
            if c not in channel_set:
                channel_set.append(c)
    if "Email" in channel_set and rng.random() < 0.2:
        channel_set.append(rng.choice(["Sms", "Push"]))
    if "App" in channel_set and "Push" not in channel_set and rng.random() < 0.15:
        channel_set.append("Push")

    if kind == "Discount":
        discount = weighted(rng, [(5.0, 3), (10.0, 5), (15.0, 3), (20.0, 2), (25.0, 1), (30.0, 0.5)])
    elif kind == "Bundle":
        discount = weighted(rng, [(0.0, 3), (5.0, 1), (10.0, 1)])
    else:
        discount = 0.0

    tags = []
    if category != "general":
        tags.append(category)
        tags.extend(rng.sample(SUB_INTERESTS[category], k=rng.randint(0, 2)))
    themes = {
        "home.hero": ["new-season", "sale", "countdown", "black-friday", "contest", "vip", "welcome"],
        "home.recs": ["new-season", "content", "eco", "gift", "sale"],
        "checkout.upsell": ["basket", "shipping", "gift"],
        "app.home_banner": ["loyalty", "retention", "welcome", "countdown", "vip"],
        "email.winback": ["winback", "retention", "deal", "new-season"],
        "email.cart_reminder": ["basket", "deal", "shipping"],
    }[placement]
    tags.extend(rng.sample(themes, k=rng.randint(1, 2)))
    if discount >= 15.0 and "deal" not in tags:
        tags.append("deal")
    if kind == "Loyalty" and "loyalty" not in tags:
        tags.append("loyalty")
    tags = sorted(set(tags))

    r = rng.random()
    if r < 0.35:
        countries = list(CORE_MARKETS)
    elif r < 0.6:
        countries = list(ALL_MARKETS)
    else:
        countries = sorted(rng.sample(ALL_MARKETS, k=rng.randint(2, 7)))
    blocked = []
    if "contest" in tags:
        blocked = [c for c in ["FR", "BE", "IT"] if c in countries or rng.random() < 0.5]
    elif rng.random() < 0.05:
        blocked = [rng.choice(countries)]

    tier = weighted(rng, [("Standard", 80), ("Premium", 15), ("Exclusive", 5)])
    if "vip" in tags:
        tier = "Exclusive"
    min_ltv = weighted(rng, [(0.0, 80), (100.0, 8), (250.0, 7), (500.0, 5)])
    if tier == "Premium":
        min_ltv = max(min_ltv, 500.0)

    # Campaign windows: most are running around the reference time and well into next year;
    # a few have ended or not started yet.
    w = rng.random()
    if w < 0.05:
        starts = REFERENCE_NOW - timedelta(days=rng.randint(120, 240))
        ends = starts + timedelta(days=rng.randint(14, 60))
    elif w < 0.10:
        starts = REFERENCE_NOW + timedelta(days=rng.randint(10, 60))
        ends = starts + timedelta(days=rng.randint(14, 90))
    elif "countdown" in tags or "black-friday" in tags:
        starts = day(2026, 11, 20)
        ends = day(2026, 11, 28) + timedelta(days=rng.randint(0, 5))
    else:
        starts = REFERENCE_NOW - timedelta(days=rng.randint(1, 90))
        ends = REFERENCE_NOW + timedelta(days=rng.randint(60, 400))
    starts = starts.replace(hour=0, minute=0, second=0)
    ends = ends.replace(hour=0, minute=0, second=0)

    title = rng.choice(KIND_WORDS[kind]).format(pct=int(discount), cat=cat_word).capitalize()
    slug = {"Discount": "disc", "FreeShipping": "ship", "Bundle": "bundle", "Loyalty": "loyal",
            "Content": "story", "Recommendation": "reco", "Reminder": "remind"}[kind]
    offer = {
        "id": "%s-%s-%03d" % (slug, category, n),
        "title": title,
        "kind": kind,
        # Mostly mid-range, so that interest and journey boosts decide between offers; a few
        # "must show" campaigns at the top.
        "priority": weighted(rng, [(1, 2), (2, 3), (3, 4), (4, 4), (5, 3), (6, 2), (7, 1), (8, 0.5)]),
        "margin": money(rng.uniform(0.0, 15.0) if kind != "Reminder" else 0.0),
        "tier": tier,
        "category": category,
        "tags": tags,
        "channels": channel_set,
        "placements": placements,
        "countries": countries,
        "blocked_countries": blocked,
        "min_lifetime_value": min_ltv,
        "discount_pct": discount,
        "starts_at": ts(starts),
        "ends_at": ts(ends),
    }
    # "Must show" campaigns are targeted: a few markets, and often premium customers only.
    if offer["priority"] >= 6:
        offer["countries"] = sorted(rng.sample(ALL_MARKETS, k=rng.randint(1, 3)))
        offer["blocked_countries"] = [c for c in blocked if c in offer["countries"]]
        if offer["tier"] == "Standard" and rng.random() < 0.5:
            offer["tier"] = "Premium"
            offer["min_lifetime_value"] = max(min_ltv, 500.0)
    if "welcome" in tags:
        offer["max_orders"] = rng.choice([0, 1, 1, 2])
    # Key order as in the schema.
    order = ["id", "title", "kind", "priority", "margin", "tier", "category", "tags", "channels",
             "placements", "countries", "blocked_countries", "min_lifetime_value", "max_orders",
             "discount_pct", "starts_at", "ends_at"]
    return {k: offer[k] for k in order if k in offer}


def catalog(rng, total=None):
    """The fixed offers, then generated ones: GENERATED_OFFERS of them, or as many as make
    `total` offers in all."""
    order = ["id", "title", "kind", "priority", "margin", "tier", "category", "tags", "channels",
             "placements", "countries", "blocked_countries", "min_lifetime_value", "max_orders",
             "discount_pct", "starts_at", "ends_at"]
    fixed = [{k: o[k] for k in order if k in o} for o in DEMO_OFFERS + fallback_offers()]
    count = GENERATED_OFFERS if total is None else total - len(fixed)
    generated = [generated_offer(rng, n) for n in range(1, count + 1)]
    offers = fixed + generated
    ids = [o["id"] for o in offers]
    assert len(ids) == len(set(ids)), "duplicate offer ids"
    return offers


# ---- profiles ----------------------------------------------------------------------------------

def profile(rng):
    lifecycle = weighted(rng, [("New", 10), ("Active", 55), ("Lapsed", 25), ("Churned", 10)])
    if lifecycle == "New":
        tenure_days = rng.randint(0, 29)
        orders = weighted(rng, [(0, 6), (1, 3), (2, 1)])
        days_since = tenure_days if orders == 0 else rng.randint(0, tenure_days)
    elif lifecycle == "Active":
        tenure_days = rng.randint(45, 2600)
        orders = max(1, int(rng.lognormvariate(1.8, 0.7)))
        days_since = rng.randint(0, 85)
    elif lifecycle == "Lapsed":
        tenure_days = rng.randint(150, 2600)
        orders = max(1, int(rng.lognormvariate(1.2, 0.7)))
        days_since = rng.randint(90, 365)
    else:
        tenure_days = rng.randint(400, 3000)
        orders = max(1, int(rng.lognormvariate(0.9, 0.6)))
        days_since = rng.randint(366, 1000)
    days_since = min(days_since, tenure_days)

    aov = money(rng.uniform(25.0, 140.0))
    ltv = money(orders * aov * rng.uniform(0.85, 1.1)) if orders > 0 else 0.0
    if ltv >= 2000.0 or (ltv >= 1200.0 and rng.random() < 0.3):
        tier = "Platinum"
    elif ltv >= 600.0:
        tier = "Gold"
    elif ltv >= 150.0:
        tier = "Silver"
    else:
        tier = "Member"

    country = weighted(rng, list(zip(ALL_MARKETS, MARKET_WEIGHTS)))

    has_cart = rng.random() < (0.35 if lifecycle in ("New", "Active") else 0.12)
    if has_cart:
        cart_items = rng.randint(1, 6)
        cart_value = money(cart_items * rng.uniform(12.0, 70.0))
        last_cart_at = ts(REFERENCE_NOW - timedelta(minutes=rng.randint(5, 10 * 24 * 60)))
    else:
        cart_items, cart_value, last_cart_at = 0, 0.0, None

    email_domain = rng.choice(EMAIL_DOMAINS) if rng.random() < 0.85 else None

    families = rng.sample(CATEGORIES, k=weighted(rng, [(0, 2), (1, 4), (2, 3), (3, 1)]))
    interests = set()
    for fam in families:
        interests.update(rng.sample(SUB_INTERESTS[fam], k=rng.randint(1, 2)))
    muted = sorted(rng.sample(MUTABLE_TOPICS, k=1)) if rng.random() < 0.1 else []
    preferred = (families[0] if families else rng.choice(CATEGORIES)) if rng.random() < 0.6 else None

    base_risk = {"New": 0.3, "Active": 0.2, "Lapsed": 0.6, "Churned": 0.85}[lifecycle]
    churn = min(0.99, max(0.01, rng.gauss(base_risk, 0.15)))
    affinity = min(1.0, max(0.0, rng.betavariate(1.5, 3.0)))
    app = rng.random() < (0.55 if lifecycle == "Active" else 0.3)
    sessions = rng.randint(0, 40) if app else rng.randint(0, 8)
    if lifecycle in ("Lapsed", "Churned"):
        sessions = rng.randint(0, 2)

    return {
        "lifecycle": lifecycle,
        "tier": tier,
        "tenure": tenure_days * DAY_MS,
        "lifetime_value": ltv,
        "country": country,
        "orders": orders,
        "days_since_last_order": days_since,
        "avg_order_value": aov if orders > 0 else 0.0,
        "cart_items": cart_items,
        "cart_value": cart_value,
        "last_cart_at": last_cart_at,
        "email_domain": email_domain,
        "interests": sorted(interests),
        "muted_topics": muted,
        "preferred_category": preferred,
        "churn_risk": round(churn, 3),
        "discount_affinity": round(affinity, 3),
        "app_installed": app,
        "sessions_30d": sessions,
    }


def profiles(rng):
    return [{"id": "u-%05d" % i, "profile": profile(rng)} for i in range(1, PROFILE_COUNT + 1)]


# ---- example requests --------------------------------------------------------------------------

def first(rows, pred):
    for row in rows:
        if pred(row["profile"]):
            return row["id"]
    raise SystemExit("no profile matches an example request")


def cart_idle_hours(p):
    if p["last_cart_at"] is None:
        return None
    at = datetime.strptime(p["last_cart_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (REFERENCE_NOW - at).total_seconds() / 3600


def requests(rows):
    def req(subject, channel, placement, max_variants, scenario=None, locale=None):
        context = {"channel": channel, "placement": placement}
        if scenario is not None:
            context["scenario"] = scenario
        if locale is not None:
            context["locale"] = locale
        return {
            "subject": {"id": subject, "tenant_id": "demo"},
            "context": context,
            "constraints": {"max_variants": max_variants, "require_consent": True},
        }

    new_de = first(rows, lambda p: p["lifecycle"] == "New" and p["orders"] == 0 and p["country"] == "DE")
    active = first(rows, lambda p: p["lifecycle"] == "Active" and p["country"] == "DE" and p["interests"])
    shopper = first(rows, lambda p: p["cart_items"] >= 2 and p["country"] in ("DE", "AT"))
    app_user = first(rows, lambda p: p["app_installed"] and p["sessions_30d"] >= 4 and p["orders"] >= 3)
    lapsed = first(rows, lambda p: p["lifecycle"] == "Lapsed" and p["email_domain"] is not None
                   and p["churn_risk"] >= 0.7 and p["country"] in CORE_MARKETS)
    abandoner = first(rows, lambda p: p["cart_items"] > 0 and p["email_domain"] is not None
                      and cart_idle_hours(p) is not None and 1 <= cart_idle_hours(p) <= 72
                      and p["country"] in CORE_MARKETS)
    return {
        "home-hero-web.json": req(new_de, "Web", "home.hero", 1, scenario="onboarding", locale="de-DE"),
        "home-recs-web.json": req(active, "Web", "home.recs", 4, locale="de-DE"),
        "checkout-upsell-app.json": req(shopper, "App", "checkout.upsell", 2),
        "app-home-banner.json": req(app_user, "App", "app.home_banner", 1),
        "email-winback.json": req(lapsed, "Email", "email.winback", 1, scenario="winback"),
        "email-cart-reminder.json": req(abandoner, "Email", "email.cart_reminder", 1, scenario="cart_recovery"),
        # The hero is not served by email: the decision answers with its fallback.
        "home-hero-wrong-channel.json": req(active, "Email", "home.hero", 1),
    }


# ---- output ------------------------------------------------------------------------------------

def yaml_scalar(v):
    """A YAML 1.2 scalar: strings double-quoted (a JSON string is a valid YAML one, and quoting
    keeps `NO` a country, not a boolean), floats with a decimal point, so the file parses to
    exactly the JSON catalog's values."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


def yaml_catalog(offers):
    """The fixed offers as a YAML catalog document, one block mapping per offer."""
    lines = [
        "# The demo catalog's fixed offers, as YAML: the same records as the start of",
        "# catalog.json (generated by examples/generate.py; do not edit). Catalog files ending",
        "# in .yaml or .yml are read as YAML by `tailor import catalog`, `tailor serve` and",
        "# `tailor replay --catalog`; PUT /admin/catalog/{tenant} takes YAML with",
        "# Content-Type: application/yaml.",
        "offers:",
    ]
    for o in offers:
        first = True
        for k, v in o.items():
            text = "[" + ", ".join(yaml_scalar(x) for x in v) + "]" if isinstance(v, list) else yaml_scalar(v)
            lines.append(("  - " if first else "    ") + k + ": " + text)
            first = False
    return "\n".join(lines) + "\n"


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def synthetic_profiles(count, path):
    """Writes `count` synthetic profiles (ids `s-0000001`, …) to `path`, streaming, from their
    own random stream: the batch-plan benchmark's input (scripts/batch-bench.sh). The example
    files are not touched."""
    rng = random.Random(SEED + 2)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i in range(1, count + 1):
            row = {"id": "s-%07d" % i, "profile": profile(rng)}
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    print("wrote %d profiles to %s" % (count, path))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--profiles":
        synthetic_profiles(int(sys.argv[2]), sys.argv[3])
        return
    rng = random.Random(SEED)
    offers = catalog(rng)
    rows = profiles(rng)

    write(os.path.join(HERE, "catalog.json"),
          json.dumps(offers, indent=2, ensure_ascii=False) + "\n")
    fixed = len(DEMO_OFFERS) + len(FALLBACKS)
    write(os.path.join(HERE, "catalog-demo.yaml"), yaml_catalog(offers[:fixed]))
    write(os.path.join(HERE, "profiles.jsonl"),
          "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows))
    # The benchmark catalog: the same fixed offers and exactly 1,000 in all, from its own
    # random stream so that adding it left catalog.json and profiles.jsonl unchanged.
    big = catalog(random.Random(SEED + 1), total=BENCH_CATALOG_SIZE)
    write(os.path.join(HERE, "catalog-1000.json"),
          json.dumps(big, indent=2, ensure_ascii=False) + "\n")
    req_dir = os.path.join(HERE, "requests")
    os.makedirs(req_dir, exist_ok=True)
    for name, body in requests(rows).items():
        write(os.path.join(req_dir, name), json.dumps(body, indent=2) + "\n")
    print("wrote %d offers, %d profiles, %d requests" % (len(offers), len(rows), len(requests(rows))))


if __name__ == "__main__":
    main()
