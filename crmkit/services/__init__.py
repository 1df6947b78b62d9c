"""The core's customer data services, one module per idea.

* :mod:`.records` — reading CSV / JSON Lines files as numbered records, streamed;
  spreadsheet formula neutralisation.
* :mod:`.columns` — file columns ⇄ customer and interaction rows.
* :mod:`.importing` / :mod:`.exporting` — ``crmkit import`` and ``crmkit export``.
* :mod:`.timeline` — the customer 360 timeline (core interactions + ``crmkit_timeline``).
* :mod:`.references` — every database column that points at a customer (core and plugins).
* :mod:`.merging` — merging a duplicate into a customer (``crmkit_merge_customers``).
* :mod:`.redaction` — what erasure replaces in payloads and audit values.
* :mod:`.privacy` — export of everything held about a person, and erasure.
* :mod:`.consent` — consent per channel; ``require_consent`` before outbound contact.
* :mod:`.audit` — reading the append-only audit log.

Every plugin takes part through public hooks only, so a vendor's tables are
covered exactly like a built-in's.  The user-facing description is
``docs/data-services.md``.
"""
