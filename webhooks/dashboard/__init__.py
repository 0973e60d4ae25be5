"""The operator's dashboard at `/dashboard` (design §4 "Dashboard"): server-rendered pages.

Modules, one job each: `session` (login cookie), `csrf` (tokens of the forms, origin check),
`data` (the overview, read from Redis), `channel_page` (a channel and its timeline), `pages`
(Jinja2 rendering), `routes` (the endpoints).
Templates and static assets ship in the package; nothing is fetched from the internet.
"""
