"""A local test plugin that extends the customer attributes schema with typed, enum and required fields."""

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(name="schemavendor", description="Adds segment (required enum) and score.")


@hookimpl
def crmkit_customer_schema(config):
    return {"properties": {"segment": {"type": "string", "enum": ["retail", "wholesale"]},
                           "score": {"type": "integer", "minimum": 0}},
            "required": ["segment"]}
