"""Every hook a crmkit plugin can implement.

Each function's docstring is that hook's reference documentation (the docs'
hook reference is generated from this module).  A plugin implements a hook by
defining a function of the same name decorated with ``@crmkit.hookimpl``; it
may accept any subset of the listed arguments.

Calling order: hooks are called for enabled plugins only, in dependency order
(a plugin after every plugin it requires), ties broken by plugin name.  Hooks
that receive ``ctx`` get a :class:`crmkit.HookContext` bound to the plugin
itself: ``ctx.config`` is that plugin's validated configuration, ``ctx.conn``
the open transaction, ``ctx.now()`` the injectable clock, ``ctx.emit()`` emits
domain events, ``ctx.times_enabled`` counts the times the plugin was enabled
while disabled (state derived from every write missed what was written while
the plugin was disabled when it differs from the count the state was built under).

Outcomes of a failing hook (documented in docs/reliability.md):

* validate / enrich / react / on_events: an exception rejects the whole batch
  (the transaction is rolled back) with a :class:`crmkit.errors.PluginError`
  naming the plugin and hook; a :class:`crmkit.errors.CRMError` a plugin
  raises on purpose keeps its own class and message.
* after_commit: the data stays committed; the failure is logged and returned
  in :attr:`crmkit.WriteResult.after_commit_errors`.
"""

from __future__ import annotations

from .markers import hookspec

# -- describing the plugin ----------------------------------------------------


@hookspec
def crmkit_config_schema():
    """Return this plugin's configuration JSON Schema (Draft 2020-12) as a dict.

    Every optional key must carry a ``default`` so that enabling with no
    configuration works.  Called on this plugin only; ``None`` means the plugin
    takes no configuration.
    """


@hookspec
def crmkit_check_config(crm, config, previous, core_config, previous_core_config):
    """Check what the JSON Schema cannot express; raise ``ConfigError`` naming the JSON pointer.

    Called on this plugin only, with the schema-valid configuration (defaults
    filled in), before ``enable`` or ``config`` stores it.  Typical use: a rule
    names an event type, field or action that does not exist.  ``core_config`` is
    the core configuration ``config`` must suit: read it here, not ``crm.core_config``.
    When the core configuration changes, the hook is called on each enabled plugin
    with its stored configuration (as ``config`` and ``previous``) and the new core
    configuration; a ``ConfigError`` then refuses that change.

    ``previous`` is the configuration stored now, which ``config`` replaces (kept
    from before the plugin was disabled, when enabling), or None if there is none;
    ``previous_core_config`` is the core configuration ``previous`` was checked with,
    or None if that is not known (a configuration kept while the plugin was
    disabled).  A check that is slow (one that resolves a host name) may skip what
    changed in neither, as it was checked when stored.

    It runs before the write transaction opens, so other writers never wait on it;
    ``crm.plugin_states()`` and the core configuration are as stored just before the
    call, and the configuration is checked again if either changes before it is
    written.
    """


@hookspec
def crmkit_migrations():
    """Return the directory (``pathlib.Path``) holding this plugin's alembic revisions.

    The first revision has ``down_revision = None`` and
    ``branch_labels = ("<plugin name>",)`` (no ``depends_on``: the core is
    always at its head before a plugin migrates).  ``crmkit plugins enable`` upgrades the branch
    to its head in the enabling transaction.  Called on this plugin only.
    """


@hookspec
def crmkit_tables():
    """Return the list of SQLAlchemy ``Table`` objects this plugin owns.

    Used by ``crmkit plugins check``, the privacy scan and ``crmkit db status``.
    Called on this plugin only.
    """


@hookspec
def crmkit_cli():
    """Return the click group mounted as ``crmkit <plugin name>``.

    Called only when that command is invoked, so heavy imports belong inside
    this function, never at the plugin module's top level.
    """


@hookspec
def crmkit_plugin_api(crm):
    """Return the object ``crm.plugin("<plugin name>")`` hands out: the plugin's public API.

    Other plugins reach this plugin only through this object and through events.
    """


@hookspec
def crmkit_event_types():
    """Return a dict ``{event type: one-line description}`` of the events this plugin emits.

    Automation rules and routing conditions are checked against the union of
    these (plus the core's own events) at configuration time.

    A type whose payload holds personal data maps to
    ``crmkit.plugin.EventType(description, personal=[keys])`` instead: the values
    under those top-level payload keys read ``***`` for a member without
    ``customers.pii`` (``GET /api/v1/events``); webhooks get them unmasked.  Every
    payload value of a type no enabled plugin declares reads ``***`` for them.
    """


@hookspec
def crmkit_customer_schema(config):
    """Return a JSON Schema fragment extending the customer ``attributes`` schema.

    The fragment is an object with ``properties`` (and optionally ``required``);
    the core composes the fragments of every enabled plugin with the core
    config's own ``customer_attributes`` schema.  ``config`` is the plugin's
    configuration.
    """


@hookspec
def crmkit_permissions():
    """Return a dict ``{permission: one-line description}`` of this plugin's own permissions.

    Each name is ``<plugin name>.<action>`` (``operational.read``,
    ``loyalty.redeem``); roles grant them by name or pattern
    (``operational.*``, ``*.read``) in the core config's ``roles``.  The
    default roles grant every ``<plugin>.read`` to viewers and every
    ``<plugin>.read`` and ``<plugin>.write`` to agents, so name reading and
    writing actions ``read`` and ``write``.  ``crm.auth.permissions()``
    lists the core's and every enabled plugin's.
    """


@hookspec
def crmkit_permission_allowed(crm, principal, permission, resource):
    """Decide row-level access: return False to refuse, True or None (no opinion) to let be.

    Called on every enabled plugin by ``crm.auth.allowed`` and
    ``crm.auth.require``, only after the principal's role grants
    ``permission``; one False refuses.  ``customers.read`` on a customer is
    also asked for a role that does not grant it, when a list of another
    permission's rows (the events, a plugin's records) names that customer:
    a customer refused there is left out of every list, whatever the role.  ``principal`` is a
    :class:`crmkit.plugin.Principal` (``handle``, ``role``, ``can()``);
    ``resource`` is the record being reached, as a dict, or None for an
    action on no particular record.  Refused on a resource, ``require``
    raises NotFound (the record does not exist for this principal, so its
    existence does not leak); without one, PermissionDenied.  Return None
    for permissions and resources that are not this plugin's.  Must be
    cheap and must not write.  An exception, or a result that is not
    True, False or None, refuses with a PluginError naming the plugin.
    Example: an agent sees only the leads they own::

        @crmkit.hookimpl
        def crmkit_permission_allowed(principal, permission, resource):
            if (permission.startswith("operational.") and resource is not None
                    and principal.role == "agent"):
                return resource.get("owner") == principal.handle
            return None
    """


@hookspec
def crmkit_permission_restricted(crm, principal, permission):
    """Say whether this plugin's row-level rule may refuse ``principal`` ``permission``.

    Return True when ``crmkit_permission_allowed`` may return False for
    ``principal`` and ``permission`` on some record, now or on a record added
    later; False or None when it never does.  ``crm.auth.restricted_by``
    asks it before a member adds a webhook, whose deliveries carry every
    record unfiltered: a member whom a rule restricts on one of the
    permissions those deliveries need may not add one.  The event log and
    the timeline ask it too: a member whom a rule restricts on
    ``<plugin>.read`` reads only that plugin's events whose record (see
    ``crmkit_event_resources``; none without that hook) and timeline entries
    whose ``resource`` (see ``crmkit_timeline``) their rules allow.  A
    plugin that implements ``crmkit_permission_allowed`` but not this hook
    is taken to restrict everyone on every permission.  Must be cheap and must not write.
    Example, for the rule of ``crmkit_permission_allowed``'s example::

        @crmkit.hookimpl
        def crmkit_permission_restricted(principal, permission):
            return permission.startswith("operational.") and principal.role == "agent"
    """


@hookspec
def crmkit_sentiment_analysers():
    """Return a list of sentiment analysers, each scoring texts of the languages it declares.

    An analyser has ``name`` (short, shown to users), ``languages`` (codes as
    :func:`crmkit.sentiment.detect_language` returns them: ``en``, ``zh``,
    ``ja``, ``ko``, ``ru``, ``ar`` …) and ``score(texts) -> list[float]``: one
    score per text from -1 (most negative) through 0 (neutral) to 1 (most
    positive), in the order given.  Load models lazily and keep them (the hook
    is called for every batch scored); never download at run time.  Callers
    use :func:`crmkit.sentiment.score_texts`, which picks the analyser by the
    text's language and leaves texts in other languages unscored.  When two
    enabled plugins declare the same language, the first in calling order wins.
    """


# -- the HTTP API ---------------------------------------------------------------


@hookspec
def crmkit_routes(crm):
    """Return this plugin's HTTP endpoints: a list of :class:`crmkit.plugin.Endpoint`.

    They are mounted under ``/api/v1/<plugin name>/`` (an Endpoint's ``path`` is relative
    to that), listed in ``/openapi.json``, and served by ``crmkit serve`` while the plugin
    is enabled.  The core authenticates the caller, checks the Endpoint's ``permission``
    and validates the query and body against its JSON Schemas before the handler runs;
    handlers of every method but GET run inside one transaction whose audit actor is the
    caller.  Raise crmkit errors (``NotFound``, ``ValidationError`` …) to answer with a
    problem document.  Called once per change of the enabled plugins.
    """


@hookspec
def crmkit_customer_card(crm, principal, customer):
    """Return this plugin's summary card of one customer for the web app's 360 page.

    A :class:`crmkit.plugin.Card` (``title``, ``rows`` of ``(label, value)``, an optional
    ``note``), or None when the plugin has nothing to show for this customer.  Values are
    shown as text (never as HTML).  ``customer`` is the customer document as ``principal``
    may see it (external ids, personal fields already masked without ``customers.pii``);
    read through your own public API.  Called only while the plugin is enabled and when
    ``principal`` holds ``<plugin>.read`` on this customer; the card is rendered in an
    element ``data-panel="<plugin name>"``.  Must be quick (one page shows every card)
    and must not write.  An exception, or a result that is not a Card or None, shows a
    card saying it could not be shown (logged by the server); the page still renders.
    """


@hookspec
def crmkit_dashboard_panels(crm, principal, as_of):
    """Return this plugin's panels for the web app's ``/dashboards`` page.

    A list of :class:`crmkit.plugin.Panel` (``name`` — a slug starting with
    ``<plugin>.`` —, ``title``, ``columns``, ``rows``, ``chart``, ``x``, ``y``, ``note``)
    computed as of ``as_of`` (an aware datetime: the page's ``?as_of=``, a date meaning
    midnight UTC as with ``--as-of``, else now);
    an empty list when there is nothing to show.  The page draws each panel's chart as
    SVG, shows its rows in a table and serves them as CSV at
    ``/dashboards/<panel name>.csv``.  Called only while the plugin is enabled and when
    ``principal`` holds ``<plugin>.read``; read through your own public API, aggregating
    in SQL (one page shows every panel), and never write.  A crmkit error shows its text
    in place of the plugin's panels; any other failure, or a result that is not a list of
    Panels, shows that the panels could not be shown (logged by the server).  The other
    plugins' panels still render.
    """


@hookspec
def crmkit_web_pages(crm):
    """Return this plugin's pages for the staff web app: a :class:`crmkit.plugin.WebPages`
    (the folder holding the plugin's ``templates/`` and ``static/``, and its
    :class:`crmkit.plugin.WebPage` list).

    Each page is served at ``/<plugin name><path>`` and each file of ``static/`` at
    ``/<plugin name>/static/<file>`` while the plugin is enabled (404 otherwise), to
    signed-in members only; a POST must carry the session's CSRF token, checked before the
    handler runs.  A handler ``(site, request, principal, form)`` renders the plugin's
    templates with ``site.render`` (they may ``{% extends "base.html" %}``) and reads and
    writes through the HTTP API's handlers with ``site.api``, so the API's permissions,
    row-level rules and validation apply; a crmkit error it raises shows the error page of
    the API's status.  A page with a ``title`` is linked from the top navigation for the
    members holding its ``permission``.  Called once per change of the enabled plugins; a
    failing hook leaves the plugin without pages (logged by the server).
    """


@hookspec
def crmkit_my_work(site, principal, now):
    """Return this plugin's sections of the web app's My work page (``/my-work``): a list
    of :class:`crmkit.plugin.WorkSection` of what waits for ``principal`` at ``now`` (the
    CRM clock), or an empty list.

    Each section's items are rendered by a template of the plugin's own ``templates/``
    folder (its :class:`crmkit.plugin.WebPages`), one ``<li>`` each; read them with
    ``site.api(principal, ...)``, so the API's permissions and row-level rules apply.  An
    action on an item is one of the plugin's pages (``crmkit_web_pages``) answering with
    ``site.my_work_action(request, principal, api_path, body, "<plugin>.<key>")``: the API
    write, then My work with the notice of that key (one of the section's ``notices``) or
    with the refusal.  Called only while the plugin is enabled and when ``principal`` holds
    ``<plugin>.read``; must be quick (one page shows every section) and must not write.
    A crmkit error shows its text in place of the plugin's sections; any other failure
    shows that they could not be shown (logged by the server).
    """


@hookspec
def crmkit_locale_dir():
    """Return the directory (``pathlib.Path``) of this plugin's translations: one gettext
    catalogue per language, ``<dir>/<lang>/LC_MESSAGES/messages.po`` (or a compiled
    ``messages.mo``), ``<lang>`` a tag of :data:`crmkit.i18n.LOCALES` with ``_`` for
    ``-`` (``zh_Hans``).

    The web app merges the catalogues of every enabled plugin into the core's, for the
    request's language: texts the plugin passes through :func:`crmkit.plugin.gettext` and
    :func:`crmkit.plugin.ngettext` (card titles and labels, panel titles) are shown
    translated.  A text the core or an earlier plugin already translates keeps that
    translation.  The plugin part ``locale`` implements it (the ``locale/`` folder).
    """


# -- the write pipeline -------------------------------------------------------


@hookspec
def crmkit_customer_measure(crm, config, measure, as_of, since):
    """A money measure per customer, in SQL, for analytics that rank or sum customers.

    ``measure`` names it (the catalogue plugin provides ``margin`` and
    ``profit``).  Return a SQLAlchemy SELECT of two columns, ``customer_id``
    and ``units`` (the measure in money units, 1/``MONEY_SCALE``), over what
    happened up to ``as_of`` (and after ``since`` unless it is None), or None
    when this plugin does not provide ``measure``.  ``config`` is this
    plugin's configuration; ``crm`` lets it ask other plugins' hooks (the
    catalogue's profit subtracts ``crmkit_acquisition_costs``).  The analytical
    plugin's Pareto analysis, RFM monetary value and KPIs use it (``--measure``).
    """


@hookspec
def crmkit_forecast_contributions(crm, as_of):
    """Expected revenue this plugin adds to the sales forecast (operational's weighted pipeline).

    Return a list of dicts (or ``None``), one per source of expected revenue as
    of ``as_of``: ``label`` (text shown as its stage, e.g. ``"campaign spring"``),
    ``owner`` (a staff handle or None), ``currency``, ``count`` (how many
    prospects), ``amount`` (a Decimal: what they bring if every one converts),
    ``probability`` (a whole percentage, the chance each converts) and
    ``expected_close`` (the ``datetime.date`` by which it is expected).  The
    forecast weights ``amount`` by ``probability`` as it does an opportunity's.
    The campaigns plugin adds each campaign's attributed revenue still expected
    within its attribution window.
    """


@hookspec
def crmkit_lead_sources(ctx, customer_ids):
    """Where new leads came from: return ``{customer_id: source}`` (text, at most 200
    characters) for those of ``customer_ids`` this plugin knows a source for, or ``None``.

    Called in the transaction in which the customers enter operational's lead
    funnel; the first plugin (in plugin order) naming a customer's source wins and
    it is stored with the lead.  The campaigns plugin answers ``"campaign NAME"``
    for a customer who enters within a campaign's attribution window of its message.
    """


@hookspec
def crmkit_validate_customers(ctx, rows):
    """Check customer rows before they are written.

    ``rows`` is a list of dicts (core columns, ``attributes``, ``tags``).
    Return a list of problems ``(index, field, message)`` (index into ``rows``)
    or ``None``.  Any problem rejects the batch; nothing is written.
    """


@hookspec
def crmkit_validate_interactions(ctx, rows):
    """Check interaction rows before they are written.

    ``rows`` is a list of dicts with the ``interactions`` columns
    (``customer_id`` resolved, ``amount`` a Decimal, ``occurred_at`` aware UTC).
    ``customer_id`` is None for a customer that ``create_customers`` /
    ``--create-customers`` creates once the rows passed every check (its
    external id is in ``row["customer"]``).  Each row is validated once per
    import or ``record_many`` call.  Return a list of problems ``(index, field,
    message)`` or ``None``.
    """


@hookspec
def crmkit_enrich_interactions(ctx, rows):
    """Add derived fields to interaction rows before they are written (mutate in place).

    The rows passed every check; ``customer_id`` is None for a customer that
    ``create_customers`` creates when the rows are stored.

    Typical use: put a derived value into ``row["payload"]``.
    """


@hookspec
def crmkit_react_customers(ctx, batch):
    """React, inside the write transaction, to a batch of newly created customers.

    ``batch`` is a :class:`crmkit.Batch`: ``batch.rows`` (dicts with ``id``) and
    the id range ``batch.first_id .. batch.last_id`` for set-based SQL.
    """


@hookspec
def crmkit_react_interactions(ctx, batch):
    """React, inside the write transaction, to a batch of newly recorded interactions.

    Work set-based: one statement per batch using
    ``interactions.c.id.between(batch.first_id, batch.last_id)``, not one per row.
    An exception rolls the whole batch back.

    ``batch.customer_deltas(ctx.conn)`` gives, for each customer the batch
    touched, what it added per interaction kind (count, amount sum, first and
    last ``occurred_at``: a :class:`crmkit.plugin.CustomerDelta`), computed once
    per batch and shared by every plugin's hook: update derived state (counts,
    totals, scores) from it rather than from each customer's history.

    This hook is where the batch's ``interaction.recorded`` events are delivered:
    events emitted here are one deeper than them (``depth`` 1 for a batch
    recorded outside any event hook), as in ``crmkit_on_events``.
    """


@hookspec
def crmkit_on_events(ctx, events):
    """Receive domain events (a list of :class:`crmkit.Event`) inside the emitting transaction.

    Events emitted here are delivered in a further round with ``depth + 1``.
    Filter on ``event.type``; every plugin sees every event.
    """


@hookspec
def crmkit_after_commit(ctx, kind, batch, events):
    """Run after a batch committed: notifications and outbound work.

    ``kind`` is ``"customers"`` or ``"interactions"``; ``ctx.conn`` is a fresh
    connection outside the committed transaction.  A failure is logged and
    reported, never undoes the committed data.
    """


@hookspec
def crmkit_sweep_prepare(crm, as_of):
    """Read what this plugin's sweep will write, before the sweep's write transaction and
    outside it, so that other writers do not wait for the reading (scoring every customer,
    say); return any value, which :func:`crmkit_sweep` then receives as ``prepared``.

    Called by ``crmkit sweep`` on every enabled plugin that implements it, with the sweep's
    ``as_of`` (its clock's now), all plugins reading one snapshot of the data
    (:meth:`crmkit.CRM.snapshot`); must not write.  Data written between the two phases is
    the next sweep's: the write phase must leave out what no longer applies (customers
    merged or erased meanwhile).  A plugin enabled or configured in between, or the core
    configuration changed, is not: every plugin prepares again, so the write phase runs
    with the plugins and configurations its prepare read.
    """


@hookspec
def crmkit_sweep(ctx, prepared):
    """Run time-based rules at ``ctx.now()`` (``crmkit sweep``); must be idempotent.

    ``prepared`` is what this plugin's :func:`crmkit_sweep_prepare` returned (None without
    one).  Return a dict of counts to report (``{"tasks_created": 3}``) or ``None``.
    """


# -- customer data services ---------------------------------------------------


@hookspec
def crmkit_timeline(ctx, customer_id, limit):
    """Return this plugin's entries for a customer's timeline.

    A list of the newest ``limit`` :class:`crmkit.TimelineEntry` (``at``,
    ``kind``, ``summary``, ``details``, ``personal``, ``resource``); the core
    merges every plugin's entries, newest first, and fills in the source
    plugin.  Name in ``personal`` each personal value the summary contains,
    as it appears there (a social handle, a name, a post's text): for a
    member without ``customers.pii`` the core shows each as ``***``
    (wherever it occurs in the summary) and leaves ``details`` out, so put
    personal data only there.  The API and the web app show a member this
    plugin's entries only when their role grants ``<plugin>.read``: all of
    them when no row-level rule may refuse them it
    (``crm.auth.reads_unrestricted``), else those whose ``resource`` (the
    record the entry is about, as ``crmkit_permission_allowed`` receives it
    for ``<plugin>.read``: operational's ``{"owner": "ana"}``) the rules
    allow them (``crm.auth.allowed``), none without a ``resource``.  When a
    rule leaves such a member fewer than ``limit`` of a full answer, the core
    asks again with twice the limit, so give the newest ``limit`` entries.
    ``resource`` is never shown; a value that is neither a dict nor None is a
    PluginError.
    """


@hookspec
def crmkit_event_resources(ctx, events):
    """Say which record each of this plugin's stored events is about, for the event log.

    ``events`` is a list of :class:`crmkit.Event` (stored events of types this
    plugin declares in ``crmkit_event_types``), oldest first; return a list of the
    same length: for each event, the record it is about as this plugin's
    ``crmkit_permission_allowed`` receives it for ``<plugin>.read`` on that record
    now (operational's ``{"owner": "ana"}``, the current owner of the lead or the
    assignee of the task), or None when it is about no one record.
    ``GET /api/v1/events`` asks it for a member whose role grants
    ``<plugin>.read`` but whom a row-level rule may refuse it on a record
    (``crm.auth.restricted_by``), once per plugin per page: it shows them each
    event whose record the rules allow them (``crm.auth.allowed``), none about no
    record.  Without this hook such a member reads none of this plugin's events;
    a member no rule restricts reads all of them and the hook is not called.
    Look the records up in one query per table for the whole list, not one per
    event.  ``ctx`` is a read context (``ctx.conn``): must not write.  A result
    that is not such a list (another length, an item neither a dict nor None) is
    a PluginError naming the plugin.
    """


@hookspec
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    """Move every row this plugin holds for ``duplicate_id`` to ``keep_id``.

    Runs inside the merge transaction; resolve your own conflicts (for example
    unique keys) so that afterwards no row of yours points at ``duplicate_id``.
    """


@hookspec
def crmkit_export_customer(ctx, customer_id):
    """Return everything this plugin holds about one customer, as JSON-ready data."""


@hookspec
def crmkit_erase_customer(ctx, customer_id):
    """Remove or irreversibly anonymise this plugin's personal data about one customer.

    Keep non-personal aggregates (amounts, dates, points) so analytics still add up.
    """


# -- deferred work ------------------------------------------------------------


@hookspec
def crmkit_worker_jobs(crm):
    """Return the list of :class:`crmkit.plugin.Job` that ``crmkit worker`` runs for this plugin.

    A job is the deferred work of one outbox table the plugin writes in the
    transaction that caused it (messages to send, calls to make).
    ``Job(name, run)``: ``name`` is ``<plugin>.<what>`` and unique; ``run(ctx)``
    gets a :class:`crmkit.plugin.WorkContext` (``crm``, ``worker_id``, ``now``
    from the CRM clock, ``batch_size``), handles ONE batch of due work and
    returns how many items it handled (0 when nothing is due: the worker then
    moves on, and ``crmkit worker --once`` exits when every job returns 0).
    Take the batch with :func:`crmkit.plugin.claim_due` (safe with several
    workers on PostgreSQL), do the slow part outside any transaction, and
    record each item's outcome in its own short transaction as soon as it is
    known.  An exception is logged and the worker goes on with the other
    jobs.  Called on every enabled plugin at each round of the worker.
    """


@hookspec
def crmkit_channels(crm):
    """Return the list of :class:`crmkit.plugin.Channel` this plugin delivers messages through.

    A channel has a ``name`` (the ``channel`` of the messages it sends: ``email``, ``sms``)
    and ``send(batch)``: ``batch`` is a list of :class:`crmkit.plugin.Sending` (queued
    messages of that channel, at most the worker's batch size); it returns one
    :class:`crmkit.plugin.SendResult` per message, ``sent``, ``retry`` (temporary: the worker
    tries again after a backoff), ``failed`` or ``bounced`` (permanent), with a detail.
    Return a list, or better yield each result as soon as the server has answered: the
    worker records it at once, so a worker killed mid-batch sends again only the messages
    then in flight.  ``send`` may use several connections at once and runs outside any
    transaction; read settings from ``crm.plugin_config(<plugin>)`` and secrets from the
    environment, never from the configuration.  Two channels of one name are a PluginError.
    Called by the worker's ``messages.send`` job at each batch.
    """


# -- demo ---------------------------------------------------------------------


@hookspec
def crmkit_demo(crm, rng):
    """Add this plugin's sample data to the demo CRM and return lines to print.

    Called by ``crmkit demo`` after the core's sample customers and interactions
    exist (so react hooks have already run); ``rng`` is a seeded
    ``random.Random``.  Return a list of short strings: what the plugin shows.
    """


@hookspec
def crmkit_demo_interactions(rng, customer, start, end, per_customer, products):
    """Return this plugin's share of one demo customer's history: interaction rows.

    ``crmkit demo`` calls it for every sample person (``customer`` is the external
    id) before any plugin's ``crmkit_demo``; each row is a dict as
    ``crm.interactions.record_many`` takes it (``kind``, ``occurred_at`` between
    ``start`` and ``end``, ``channel``, ``amount``, ``payload``…; ``customer`` and
    ``external_id`` are filled in by the demo).  ``per_customer`` is the average
    number of interactions per customer the demo was asked for: the core makes
    about a third of them (visits, calls, messages, refunds), the plugins the
    shapes their models need (purchases as a CLV model assumes them, surveys,
    complaints).  Purchases' line items name the sample ``products`` (the same
    list ``crmkit_demo_prepare`` received) by ``sku``.  Draw from ``rng`` only, so
    a seed gives the same sample.
    """


@hookspec
def crmkit_demo_prepare(crm, products):
    """Add reference data the demo's sample interactions refer to, before they are recorded.

    Called by ``crmkit demo`` once every plugin is enabled and before the core's
    sample interactions are written (their line items must then pass every
    plugin's checks).  ``products`` lists the products the sample purchases'
    line items name by ``sku``: dicts with ``sku``, ``name``, ``category``,
    ``list_price`` and ``unit_cost`` (decimal texts).  Returns nothing.
    """


@hookspec
def crmkit_demo_refresh(crm):
    """Return lines that ``crmkit demo`` prints after its report, recomputed on every run.

    The demo's report is stored and shown again, unchanged, when ``crmkit demo``
    runs on the same database.  What depends on this machine rather than on
    the data (charts drawn with an optional package, files written beside the
    database) belongs here instead, so that it stays true: installing the
    optional package later makes the next ``crmkit demo`` draw the charts.
    Return a list of short strings.
    """


@hookspec
def crmkit_acquisition_costs(crm, as_of, since):
    """What acquiring each customer cost, in SQL, for profit per customer.

    Return a SQLAlchemy SELECT of three columns, one row per customer this
    plugin attributes an acquisition cost to: ``customer_id``, ``acquired_at``
    (when the customer was acquired: the cost falls in that moment's period)
    and ``units`` (the cost in money units, 1/``MONEY_SCALE``, not negative);
    only acquisitions up to ``as_of`` (and after ``since`` unless it is None).
    Return None when this plugin has nothing to attribute.  Build it set-based
    (no query or Python loop per customer): the caller unions every plugin's
    SELECT into its own GROUP BY, and rows of several plugins for one customer
    add up.  The campaigns plugin shares each campaign's cost equally among the
    customers whose first purchase it is credited with; the catalogue plugin's
    profit (gross margin − cost to serve − acquisition cost) subtracts it.
    """


@hookspec
def crmkit_purchase_measure(config, measure, as_of):
    """A money measure per purchase, in SQL, for models of the value of each purchase.

    ``measure`` names it (the catalogue plugin provides ``margin``: each
    purchase's line totals less the quantities × the products' unit costs).
    Return a SQLAlchemy SELECT of two columns, ``interaction_id`` and ``units``
    (the measure in money units, 1/``MONEY_SCALE``), at most one row per
    interaction, over interactions up to ``as_of``; or None when this plugin does
    not provide ``measure``.  An interaction without a row counts 0 (a purchase
    without line items has no known margin).  ``config`` is this plugin's
    configuration.  The analytical plugin's CLV fits its Gamma-Gamma spend model
    on it (``crmkit analytical clv fit|predict --measure``).
    """


__all__ = [
    "crmkit_config_schema", "crmkit_check_config", "crmkit_migrations", "crmkit_tables",
    "crmkit_cli", "crmkit_plugin_api", "crmkit_event_types", "crmkit_customer_schema",
    "crmkit_permissions", "crmkit_permission_allowed", "crmkit_permission_restricted",
    "crmkit_customer_measure",
    "crmkit_validate_customers", "crmkit_validate_interactions", "crmkit_enrich_interactions",
    "crmkit_react_customers", "crmkit_react_interactions", "crmkit_on_events",
    "crmkit_after_commit", "crmkit_sweep", "crmkit_timeline", "crmkit_event_resources",
    "crmkit_merge_customers",
    "crmkit_export_customer", "crmkit_erase_customer", "crmkit_worker_jobs", "crmkit_demo",
    "crmkit_demo_prepare", "crmkit_demo_interactions", "crmkit_demo_refresh", "crmkit_routes",
    "crmkit_customer_card", "crmkit_channels", "crmkit_acquisition_costs",
    "crmkit_purchase_measure",
]
