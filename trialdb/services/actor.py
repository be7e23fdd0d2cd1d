"""Who is acting: what every audit row and permission check needs to know."""

from __future__ import annotations

from dataclasses import dataclass, field

from trialdb.models import User
from trialdb.vocab import Role


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    role: Role | None
    site_ids: frozenset[int] = field(default_factory=frozenset)
    all_sites: bool = False

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(
            user_id=user.id,
            name=user.display_name,
            role=user.role,
            site_ids=frozenset(m.site_id for m in user.memberships),
            all_sites=user.all_sites,
        )

    @classmethod
    def system(cls, name: str) -> Actor:
        """A command run by the operator (demo generation, imports from the shell)."""
        return cls(user_id=None, name=name, role=None, all_sites=True)

    def may_see_site(self, site_id: int) -> bool:
        return self.all_sites or site_id in self.site_ids
