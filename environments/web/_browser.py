"""The browser tools: open pages, follow numbered links, go back, search, fill and submit forms."""

from __future__ import annotations

from pydantic import BaseModel, Field

from arena.errors import ToolError
from arena.tools import Tool, ToolContext

from ._forms import FORMS, submit
from ._pages import normalise_url, render, search_url
from ._session import Page, WebState
from ._site import BASE


def _state(ctx: ToolContext) -> WebState:
    assert isinstance(ctx.state, WebState)
    return ctx.state


def navigate(state: WebState, url: str, *, remember: bool = True) -> Page:
    page = render(state, url)  # raises a 404 before anything changes
    if remember and state.page is not None:
        state.history.append(state.page.url)
    state.page = page
    state.visited.append(page.url)
    return page


def _current(state: WebState) -> Page:
    if state.page is None:
        raise ToolError(f"no page is open yet; open_url {BASE}/ first")
    return state.page


def _form_on_page(state: WebState, form_id: str | None) -> str:
    page = _current(state)
    if form_id is None:
        if len(page.forms) != 1:
            raise ToolError("this page has no form; open the form's page first (see the home page)"
                            if not page.forms else f"this page has several forms: {', '.join(page.forms)}")
        return page.forms[0]
    key = form_id.strip().lower()
    if key not in page.forms:
        where = f" (it is at {BASE}{FORMS[key].path})" if key in FORMS else ""
        raise ToolError(f"no form {form_id!r} on this page{where}")
    return key


# ---------------------------------------------------------------- arguments


class OpenUrlArgs(BaseModel):
    url: str = Field(description=f"Intranet URL, e.g. {BASE}/directory (or a path such as /wiki).")


class FollowLinkArgs(BaseModel):
    link_id: int = Field(description="Number of a link on the current page, shown as [n].")


class NoArgs(BaseModel):
    pass


class SearchArgs(BaseModel):
    query: str = Field(description="Words to search for in page titles, names and teams.")


class FillFieldArgs(BaseModel):
    field: str = Field(description="Name of the form field, as shown on the form page.")
    value: str = Field(description="Value to type into the field.")
    form_id: str | None = Field(None, description="Id of the form; may be left out when the page has one form.")


class SubmitFormArgs(BaseModel):
    form_id: str = Field(description="Id of the form on the current page, e.g. book-room.")


# ---------------------------------------------------------------- tools


async def _open_url(args: OpenUrlArgs, ctx: ToolContext) -> str:
    return navigate(_state(ctx), normalise_url(args.url)).text


async def _follow_link(args: FollowLinkArgs, ctx: ToolContext) -> str:
    state = _state(ctx)
    page = _current(state)
    if not 1 <= args.link_id <= len(page.links):
        raise ToolError(f"this page has links [1] to [{len(page.links)}]; there is no [{args.link_id}]")
    return navigate(state, page.links[args.link_id - 1]).text


async def _back(args: NoArgs, ctx: ToolContext) -> str:
    state = _state(ctx)
    if not state.history:
        raise ToolError("there is no previous page")
    return navigate(state, state.history.pop(), remember=False).text


async def _search(args: SearchArgs, ctx: ToolContext) -> str:
    if not args.query.strip():
        raise ToolError("give some words to search for")
    return navigate(_state(ctx), search_url(args.query.strip())).text


async def _fill_field(args: FillFieldArgs, ctx: ToolContext) -> str:
    state = _state(ctx)
    form_id = _form_on_page(state, args.form_id)
    names = [f.name for f in FORMS[form_id].fields]
    field = args.field.strip().lower().replace(" ", "_")
    if field not in names:
        raise ToolError(f"form {form_id!r} has no field {args.field!r}; its fields are {', '.join(names)}")
    state.drafts.setdefault(form_id, {})[field] = args.value
    state.page = render(state, _current(state).url)
    return f"{form_id}.{field} = {args.value!r}"


async def _submit_form(args: SubmitFormArgs, ctx: ToolContext) -> str:
    state = _state(ctx)
    form_id = _form_on_page(state, args.form_id)
    outcome = submit(state, form_id)
    if isinstance(outcome, list):
        state.errors[form_id] = outcome
        state.page = render(state, _current(state).url)
        raise ToolError(f"the form was not accepted:\n{state.page.text}")
    return navigate(state, f"{BASE}/confirmation/{outcome['ref']}").text


def browser_tools() -> list[Tool]:
    return [
        Tool("open_url", "Open an intranet page by URL; returns the page as text with numbered links.",
             OpenUrlArgs, _open_url, effect="read"),
        Tool("follow_link", "Follow link [n] of the current page.", FollowLinkArgs, _follow_link, effect="read"),
        Tool("back", "Go back to the previous page.", NoArgs, _back, effect="read"),
        Tool("search", "Search the intranet; returns a results page with numbered links.", SearchArgs, _search,
             effect="read"),
        Tool("fill_field", "Type a value into a field of the form on the current page.", FillFieldArgs, _fill_field,
             effect="change"),
        Tool("submit_form", "Submit a form on the current page; shows a confirmation or the errors to fix.",
             SubmitFormArgs, _submit_form, effect="change"),
    ]
