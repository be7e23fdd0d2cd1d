"""Who is acting: what every audit row and permission check needs to know."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from trialdb.errors import NotFound
from trialdb.models import Participant, User
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


def visible_participant(session: Session, actor: Actor, participant_id: int) -> Participant:
    """The participant, or NotFound when it does not exist for this actor."""
    participant = session.get(Participant, participant_id)
    if participant is None or not actor.may_see_site(participant.site_id):
        raise NotFound("No such participant.", "Participant introuvable.")
    return participant
