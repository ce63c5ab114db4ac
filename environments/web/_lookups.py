"""Find-a-fact templates: multi-hop look-ups across wiki, team and directory pages, with distractors."""

from __future__ import annotations

import datetime as dt

from . import _pools as pools
from ._generate import SiteBuilder
from ._scenario import INTRANET, Router, Scenario, near_name, plain_members, regular_teams, when
from ._site import week_start

OFFICE_EXAMPLE = "B3-105"  # no generated building has code B, so the example never is an answer


def manager_extension(b: SiteBuilder) -> Scenario:
    """The phone extension of the manager of the person who owns wiki page X."""
    site, rng = b.site, b.rng
    page = rng.choice(site.wiki)
    owner = rng.choice([p for p in site.people if p.manager and p.team != "leadership"])
    page.owner = owner.username
    manager = site.person(owner.manager or "")
    assert manager is not None
    if b.difficulty >= 2:  # a look-alike page owned by someone with another manager
        other = rng.choice([p for p in site.people if p.manager not in (None, owner.manager)])
        b.howto(rng.choice(pools.TITLE_VARIANTS).format(t=page.title), other.username)
    if b.difficulty >= 3:  # someone with a near-identical name in another team
        team = rng.choice([t for t in regular_teams(site) if t.slug != owner.team])
        b.person(team.slug, rng.choice(site.buildings).code, name=near_name(owner.name), manager=team.lead)
    route = Router(site).go("/").go("/wiki").go(f"/wiki/{page.slug}").go(f"/people/{owner.username}")
    solution = route.go(f"/people/{manager.username}").answer(manager.ext)
    title = page.title
    instructions = [
        f"Using the {site.company} intranet at {INTRANET}, find the phone extension of the manager of the person "
        f"who owns the wiki page \"{title}\". Submit the extension (just the number) as your answer.",
        f"Who owns the wiki page \"{title}\" on the intranet ({INTRANET})? Look up that person's manager in the "
        "staff directory and submit the manager's phone extension as the answer.",
        f"I need to phone the manager of whoever maintains our \"{title}\" wiki page. Browse the intranet "
        f"({INTRANET}) and submit that manager's phone extension (the number only).",
    ]
    return Scenario(b.difficulty, instructions, solution, 3.0 + b.difficulty,
                    answer={"kind": "extension", "value": manager.ext},
                    secrets=[manager.ext, manager.name, owner.name])


def oncall_office(b: SiteBuilder) -> Scenario:
    """The office of the person on call this week for team Y."""
    site, rng = b.site, b.rng
    team = rng.choice(regular_teams(site))
    this_week = week_start(dt.date.fromisoformat(site.today)).isoformat()
    username = next(u for start, u in team.oncall if start == this_week)
    person = site.person(username)
    assert person is not None
    if b.difficulty >= 3:  # a namesake elsewhere: the rota's link, not a name search, is the safe route
        other = rng.choice([t for t in regular_teams(site) if t.slug != team.slug])
        b.person(other.slug, rng.choice(site.buildings).code, name=person.name, manager=other.lead)
    route = Router(site).go("/").go("/teams").go(f"/teams/{team.slug}").go(f"/wiki/team-{team.slug}")
    solution = route.go(f"/people/{username}").answer(person.office)
    today = when(site.today)
    instructions = [
        f"Which office does this week's on-call person of the {team.name} team sit in? Use the intranet at "
        f"{INTRANET} (today is {today}). Submit the office room code, in the form {OFFICE_EXAMPLE}.",
        f"Find who is on call this week for {team.name} (on-call rotas are in the team handbooks on {INTRANET}; "
        f"today is {today}) and submit the room code of their office (like {OFFICE_EXAMPLE}).",
        f"Today is {today}. Someone needs to walk over to whoever is on call for the {team.name} team this week. "
        f"Look them up on the intranet ({INTRANET}) and submit the code of the office they sit in (for example "
        f"{OFFICE_EXAMPLE}).",
    ]
    return Scenario(b.difficulty, instructions, solution, 3.0 + b.difficulty,
                    answer={"kind": "office", "value": person.office}, secrets=[person.office, person.name])


def similar_names(b: SiteBuilder) -> Scenario:
    """The email of the manager of person X in team Y, with namesakes in other teams."""
    site, rng = b.site, b.rng
    team = rng.choice(regular_teams(site))
    target = rng.choice(plain_members(site, team))
    others = [t for t in regular_teams(site) if t.slug != team.slug]
    rng.shuffle(others)
    codes = [x.code for x in site.buildings]
    b.person(others[0].slug, rng.choice(codes), name=target.name, manager=others[0].lead)
    if b.difficulty >= 2:
        b.person(others[1].slug, rng.choice(codes), name=near_name(target.name), manager=others[1].lead)
    if b.difficulty >= 3:  # a second exact namesake in yet another team
        b.person(others[-1].slug, rng.choice(codes), name=target.name, manager=others[-1].lead)
    manager = site.person(target.manager or "")
    assert manager is not None
    route = Router(site).go("/").search(target.name).go(f"/people/{target.username}")
    solution = route.go(f"/people/{manager.username}").answer(manager.email)
    instructions = [
        f"On the intranet ({INTRANET}), find {target.name} from the {team.name} team and submit the email "
        "address of their manager.",
        f"What is the email address of the manager of {target.name} ({team.name})? Use the staff directory on "
        f"{INTRANET} and submit the address.",
        f"I have a question for the manager of {target.name}, who works in {team.name}. Look it up on the intranet "
        f"at {INTRANET} and submit the manager's email address as your answer.",
    ]
    return Scenario(b.difficulty, instructions, solution, 2.0 + b.difficulty,
                    answer={"kind": "email", "value": manager.email}, secrets=[manager.email, manager.name])
