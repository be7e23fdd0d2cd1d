"""Who is acting: what every audit row and permission check needs to know."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from trialdb.errors import Forbidden, NotFound
from trialdb.models import Participant, User
from trialdb.vocab import Role

#: Who enters, corrects and imports clinical data. Not administrators: whoever
#: manages the accounts and the system has no say in the data (segregation of
#: duties, GCP). The other roles are read-only for clinical data.
ENTRY_ROLES = frozenset({Role.COORDINATOR, Role.INVESTIGATOR, Role.DATA_MANAGER})


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

    @property
    def may_enter_data(self) -> bool:
        """The rule of every entry point (web, API, command line). The operator's
        own commands (`system`, no role) are not a role's."""
        return self.role is None or self.role in ENTRY_ROLES


def require_entry(actor: Actor) -> None:
    """Forbidden for a read-only role: called before a use case writes anything."""
    if not actor.may_enter_data:
        raise Forbidden("Your role is read-only.", "Votre rôle permet la consultation seulement.")


def visible_participant(session: Session, actor: Actor, participant_id: int) -> Participant:
    """The participant, or NotFound when it does not exist for this actor."""
    participant = session.get(Participant, participant_id)
    if participant is None or not actor.may_see_site(participant.site_id):
        raise NotFound("No such participant.", "Participant introuvable.")
    return participant
