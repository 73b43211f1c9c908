"""Backpack's wire format, declared once: endpoints, messages, codes; nothing of the server.

Every byte that crosses the HTTP and websocket API is parsed or built here, so the REST
routes, the websocket streams, the bots' client and the OpenAPI document cannot drift
apart. One module per job: `fields` (how a message is declared: a request a msgspec
Struct whose annotations carry types, limits and codes, a reply a tuple of outputs with
their getters; parser, client params, encoder and JSON Schema all derive from one
declaration), `requests` and `replies` (every message, declared once), `endpoints`
(the table of routes: method, path, instruction, scope, tag, messages, refusals),
`codes` (error codes and `ApiError`), `decoding` (the one gate for request text),
`streams` (websocket encoders), `client` (the readers of replies) and `openapi` (the
document, derived from the table).

Types and units follow Backpack (docs.backpack.exchange and its clients, ccxt among them): every price, quantity
and amount is a decimal *string* in plain notation; ids of orders are strings, ids of
trades numbers; `clientId` is a uint32 number; live order `createdAt` and public trade
`timestamp` are integer milliseconds, depth `timestamp` is integer microseconds, and
history (`/wapi/v1/history/...`, `/wapi/v1/capital/deposits` and `/withdrawals`) uses
naive UTC ISO strings with milliseconds. Deposits and withdrawals are numbered in commit
order (`id`), and carry the ledger's transfer id, the one a deposit or withdrawal
request answers with, as their `identifier`.
"""
