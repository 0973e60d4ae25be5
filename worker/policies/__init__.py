"""Recording policies (design §6): which channels are recorded, and how.

    policies = load_policies(settings.autorec_policy_file,
                             default_grace_s=settings.autorec_empty_grace_s)
    policy = policies.match(channel)          # first matching rule, else the default policy

Load once per process at start (a `PolicyError` is one line naming the rule and field) and
pass the `PolicySet` down. Everything here is pure; `load_policies` only reads the file.
"""

from worker.policies.enums import (
    ChannelType,
    FileTypes,
    Layout,
    Mode,
    StreamMode,
    Streams,
    VideoStreamType,
)
from worker.policies.loader import (
    PolicyError,
    PolicySet,
    builtin_default,
    load_policies,
    parse_policies,
)
from worker.policies.model import Policy, Subscriptions
from worker.policies.prefix import MAX_PREFIX_CHARS, PrefixTemplate, channel_prefix
from worker.policies.transcoding import Transcoding
from worker.policies.uids import ALL_STREAMS, uid_group

__all__ = [
    "ALL_STREAMS",
    "MAX_PREFIX_CHARS",
    "ChannelType",
    "FileTypes",
    "Layout",
    "Mode",
    "Policy",
    "PolicyError",
    "PolicySet",
    "PrefixTemplate",
    "StreamMode",
    "Streams",
    "Subscriptions",
    "Transcoding",
    "VideoStreamType",
    "builtin_default",
    "channel_prefix",
    "load_policies",
    "parse_policies",
    "uid_group",
]
