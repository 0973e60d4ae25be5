"""Simulated RTC channels; every membership change yields the productId-1 NCS events Agora
would send for it (agora-facts §4.2): 101/102 channel create/destroy, 103-108 joins and
leaves, 111/112 role changes, each user event with a growing `clientSeq`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.config import Clock
from sandbox.fields import UID_MAX
from sandbox.models import JsonObject, Profile, Role

PLATFORM_LINUX = 6
CLIENT_TYPE_CLOUD_RECORDING = 10
EVENT_CHANNEL_CREATE, EVENT_CHANNEL_DESTROY = 101, 102
EVENT_HOST_JOIN, EVENT_HOST_LEAVE = 103, 104
EVENT_AUDIENCE_JOIN, EVENT_AUDIENCE_LEAVE = 105, 106
EVENT_USER_JOIN, EVENT_USER_LEAVE = 107, 108
EVENT_TO_HOST, EVENT_TO_AUDIENCE = 111, 112

RtcEvent = tuple[int, JsonObject]


class ChannelError(Exception):
    """A membership change that cannot happen; `status` is the admin API's HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass
class Member:
    """One member of a channel (a user or a recorder)."""

    uid: int
    role: Role
    platform: int
    client_type: int | None
    joined_at_unix_s: float
    recorder_sid: str | None = None

    @property
    def is_recorder(self) -> bool:
        """Whether this member is a Cloud Recording recorder of this sandbox."""
        return self.recorder_sid is not None

    def summary(self) -> JsonObject:
        """JSON view for the admin API."""
        return {
            "uid": self.uid,
            "role": str(self.role),
            "platform": self.platform,
            "recorder": self.is_recorder,
            "sid": self.recorder_sid,
        }


@dataclass
class Channel:
    """A channel with at least one member."""

    name: str
    profile: Profile
    members: dict[int, Member] = field(default_factory=dict)

    def qualifying_uids(self) -> list[int]:
        """Non-recorder users who keep a recorder busy: everyone in communication, hosts live."""
        return [
            m.uid
            for m in self.members.values()
            if not m.is_recorder and (self.profile is Profile.COMMUNICATION or m.role is Role.HOST)
        ]

    def summary(self) -> JsonObject:
        """JSON view for the admin API."""
        members = [m.summary() for m in self.members.values()]
        return {"channel": self.name, "profile": str(self.profile), "members": members}


class ChannelBook:
    """All simulated channels."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.channels: dict[str, Channel] = {}
        self._client_seq = int(clock.time() * 1000)

    def get(self, name: str) -> Channel | None:
        """The channel, or None when nobody is in it."""
        return self.channels.get(name)

    def member(self, name: str, uid: int) -> Member | None:
        """A member of a channel, or None."""
        channel = self.channels.get(name)
        return None if channel is None else channel.members.get(uid)

    def clear(self) -> None:
        """Forget every channel."""
        self.channels.clear()

    def _base(self, channel: Channel, member: Member) -> JsonObject:
        self._client_seq += 1
        base: JsonObject = {
            "channelName": channel.name,
            "uid": member.uid,
            "platform": member.platform,
        }
        if member.platform == PLATFORM_LINUX and member.client_type is not None:
            base["clientType"] = member.client_type
        base["clientSeq"] = self._client_seq
        base["ts"] = int(self._clock.time())
        return base

    def join(
        self,
        name: str,
        uid: int,
        *,
        role: Role,
        profile: Profile,
        platform: int,
        client_type: int | None = None,
        recorder_sid: str | None = None,
    ) -> list[RtcEvent]:
        """A member joins (101 first for an empty channel, then 107 or 103/105)."""
        if not 1 <= uid <= UID_MAX:
            raise ChannelError(400, f"uid must be in [1, {UID_MAX}], got {uid}")
        channel = self.channels.get(name)
        events: list[RtcEvent] = []
        if channel is None:
            channel = Channel(name, profile)
            self.channels[name] = channel
            events.append((EVENT_CHANNEL_CREATE, {"channelName": name, "ts": self._now_s()}))
        elif channel.profile is not profile:
            raise ChannelError(409, f"channel {name!r} uses the {channel.profile} profile")
        if uid in channel.members:
            raise ChannelError(409, f"uid {uid} is already in channel {name!r}")
        if channel.profile is Profile.COMMUNICATION:
            role = Role.HOST
        member = Member(uid, role, platform, client_type, self._clock.time(), recorder_sid)
        channel.members[uid] = member
        payload = self._base(channel, member)
        if channel.profile is Profile.COMMUNICATION:
            events.append((EVENT_USER_JOIN, payload))
        else:
            payload["account"] = str(uid)
            kind = EVENT_HOST_JOIN if role is Role.HOST else EVENT_AUDIENCE_JOIN
            events.append((kind, payload))
        return events

    def leave(self, name: str, uid: int, reason: int) -> list[RtcEvent]:
        """A member leaves (108 or 104/106, then 102 when the channel is empty)."""
        channel = self.channels.get(name)
        member = None if channel is None else channel.members.get(uid)
        if channel is None or member is None:
            raise ChannelError(404, f"uid {uid} is not in channel {name!r}")
        del channel.members[uid]
        payload = self._base(channel, member)
        payload["reason"] = reason
        payload["duration"] = int(self._clock.time() - member.joined_at_unix_s)
        if channel.profile is Profile.COMMUNICATION:
            events: list[RtcEvent] = [(EVENT_USER_LEAVE, payload)]
        else:
            payload["account"] = str(uid)
            kind = EVENT_HOST_LEAVE if member.role is Role.HOST else EVENT_AUDIENCE_LEAVE
            events = [(kind, payload)]
        if not channel.members:
            del self.channels[name]
            destroy = {"channelName": name, "ts": self._now_s(), "lastUid": uid}
            events.append((EVENT_CHANNEL_DESTROY, destroy))
        return events

    def set_role(self, name: str, uid: int, role: Role) -> list[RtcEvent]:
        """A live-profile member changes role (111 to host, 112 to audience)."""
        channel = self.channels.get(name)
        member = None if channel is None else channel.members.get(uid)
        if channel is None or member is None:
            raise ChannelError(404, f"uid {uid} is not in channel {name!r}")
        if channel.profile is not Profile.LIVE:
            raise ChannelError(409, f"channel {name!r} is not a live-profile channel")
        if member.role is role:
            return []
        member.role = role
        self._client_seq += 1
        payload = {
            "channelName": name,
            "uid": uid,
            "clientSeq": self._client_seq,
            "ts": self._now_s(),
            "account": str(uid),
        }
        return [(EVENT_TO_HOST if role is Role.HOST else EVENT_TO_AUDIENCE, payload)]

    def user_list(self, name: str, *, hosts_only: bool) -> JsonObject:
        """The channel-management user-list body (agora-facts §5), recorders included."""
        channel = self.channels.get(name)
        if channel is None:
            return {"success": True, "data": {"channel_exist": False}}
        if channel.profile is Profile.COMMUNICATION:
            users = list(channel.members)
            data = {"channel_exist": True, "mode": 1, "total": len(users), "users": users}
            return {"success": True, "data": data}
        hosts = [m.uid for m in channel.members.values() if m.role is Role.HOST]
        data = {"channel_exist": True, "mode": 2, "broadcasters": hosts}
        if not hosts_only:
            audience = [m.uid for m in channel.members.values() if m.role is Role.AUDIENCE]
            data["audience"] = audience[:10_000]
            data["audience_total"] = len(audience)
        return {"success": True, "data": data}

    def channel_list(self, *, page_no: int, page_size: int) -> JsonObject:
        """One page of the channel-management channel list (agora-facts §5): channels with
        members, oldest first, each with its `user_count` (recorders included, they are
        members). Pages are slices of the live list, so a channel created or destroyed
        between two pages shifts the rest: one may repeat or be missed, as Agora warns."""
        names = list(self.channels)
        page = names[page_no * page_size : (page_no + 1) * page_size]
        channels = [
            {"channel_name": name, "user_count": len(self.channels[name].members)} for name in page
        ]
        return {"success": True, "data": {"channels": channels, "total_size": len(names)}}

    def _now_s(self) -> int:
        return int(self._clock.time())
