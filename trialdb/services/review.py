"""Review of entered data: queries, source verification, signatures, locks.

`guard_write` and `after_write` are called by every write to a CRF record
(services.records), so a lock is enforced and a verification or signature
is voided whichever path changed the data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from trialdb.crf.definitions import load_forms
from trialdb.db import utcnow
from trialdb.errors import Forbidden, InvalidInput, NotFound
from trialdb.models import (
    DataQuery,
    Participant,
    QueryMessage,
    RecordReview,
    Signature,
    User,
    form_models,
)
from trialdb.models._columns import FormRecordMixin
from trialdb.services import audit
from trialdb.services.accounts import password_matches
from trialdb.services.actor import Actor, visible_participant
from trialdb.vocab import QueryStatus, Role, SignatureMeaning

CASEBOOK = "participant"  # entity name of a whole participant's casebook
_VOLATILE = frozenset({"row_version", "created_at", "updated_at"})

RAISERS = frozenset({Role.MONITOR, Role.DATA_MANAGER})
ANSWERERS = frozenset({Role.COORDINATOR, Role.INVESTIGATOR})
SIGNERS = frozenset({Role.INVESTIGATOR})
LOCKERS = frozenset({Role.DATA_MANAGER})
AUTOMATIC_RAISER = "trialdb (soft limit)"


def _require(actor: Actor, roles: frozenset[Role], en: str, fr: str) -> None:
    if actor.role not in roles:
        raise Forbidden(en, fr)


def _entity(record: FormRecordMixin) -> str:
    return type(record).__tablename__


def _entry(action: str, participant: Participant, entity: str, record_id: int,
           changes: dict[str, list[Any]] | None = None, reason: str | None = None) -> audit.Entry:
    return audit.Entry(action=action, entity=entity, entity_id=record_id,
                       study_number=participant.study_number, site_code=participant.site.code,
                       changes=changes, reason=reason)


def _review(session: Session, participant_id: int, entity: str, record_id: int,
            create: bool = False) -> RecordReview | None:
    review = session.scalar(select(RecordReview).where(
        RecordReview.entity == entity, RecordReview.record_id == record_id))
    if review is None and create:
        review = RecordReview(participant_id=participant_id, entity=entity, record_id=record_id)
        session.add(review)
    return review


# --- the write hooks -------------------------------------------------------

_REVIEWS = cast(Table, RecordReview.__table__)
_HELD = (_REVIEWS.c.participant_id == bindparam("participant_id")) & _REVIEWS.c.locked_at.is_not(None)
#: Whether a write is refused, as one EXISTS that a caller may read together with
#: other values (bound: participant_id; for an existing record, entity and record_id
#: too). A new record can only be held by a frozen casebook. Built once: a statement
#: object memoises its cache key, which costs more than the lookup itself.
NEW_RECORD_LOCKED = exists().where(_HELD, _REVIEWS.c.entity == CASEBOOK)
RECORD_LOCKED = exists().where(_HELD, or_(
    _REVIEWS.c.entity == CASEBOOK,
    (_REVIEWS.c.entity == bindparam("entity")) & (_REVIEWS.c.record_id == bindparam("record_id"))))
_READ_LOCKS = {False: select(NEW_RECORD_LOCKED), True: select(RECORD_LOCKED)}


def lock_parameters(participant: Participant, entity: str,
                    record_id: int | None) -> dict[str, Any]:
    """The values bound by NEW_RECORD_LOCKED (record_id None) or RECORD_LOCKED."""
    if record_id is None:
        return {"participant_id": participant.id}
    return {"participant_id": participant.id, "entity": entity, "record_id": record_id}


def guard_write(session: Session, participant: Participant, entity: str,
                record_id: int | None, *, locked: bool | None = None) -> None:
    """Refuse a write to a frozen participant or a locked record (403).

    `locked`: the EXISTS above, when the caller has already read it in this
    transaction (it is read here otherwise).
    """
    if locked is None:
        locked = bool(session.execute(_READ_LOCKS[record_id is not None],
                                      lock_parameters(participant, entity, record_id)).scalar())
    if locked:
        raise Forbidden("These data are locked: ask a data manager to unlock them.",
                        "Ces données sont verrouillées : demandez leur déverrouillage "
                        "à un data manager.")


_SIGNATURES = cast(Table, Signature.__table__)
#: The two voiding statements, built once in Core (see guard_write): one
#: statement each, whether or not there is anything to void. Their parameters are
#: not named after columns: an UPDATE keeps those names for its SET clause.
_UNVERIFY = (update(_REVIEWS)
             .where(_REVIEWS.c.entity == bindparam("of_entity"),
                    _REVIEWS.c.record_id == bindparam("of_record"),
                    _REVIEWS.c.verified_at.is_not(None))
             .values(verified_at=None, verified_by=None)
             .returning(_REVIEWS.c.id))
_VOID_SIGNATURES = (update(_SIGNATURES)
                    .where(_SIGNATURES.c.participant_id == bindparam("of_participant"),
                           _SIGNATURES.c.invalidated_at.is_(None),
                           or_(_SIGNATURES.c.entity == CASEBOOK,
                               (_SIGNATURES.c.entity == bindparam("of_entity"))
                               & (_SIGNATURES.c.record_id == bindparam("of_record"))))
                    .values(invalidated_at=bindparam("now"))
                    .returning(_SIGNATURES.c.id))


def after_write(session: Session, participant: Participant, entity: str,
                record_id: int) -> list[audit.Entry]:
    """A change voids the record's verification and the signatures over it.

    Called once the change is flushed. Returns the audit entries for what was
    voided; the caller appends them with its own entry, last, so the audit
    chain's lock is held briefly.
    """
    entries: list[audit.Entry] = []
    target = {"of_entity": entity, "of_record": record_id}
    unverified = session.execute(_UNVERIFY, target).scalars().all()
    _synchronise(session, RecordReview, unverified, {"verified_at": None, "verified_by": None})
    if unverified:
        entries.append(_entry("unverify", participant, entity, record_id,
                              reason="data changed after verification"))
    now = utcnow()
    voided = session.execute(_VOID_SIGNATURES, {
        **target, "of_participant": participant.id, "now": now}).scalars().all()
    _synchronise(session, Signature, voided, {"invalidated_at": now})
    entries.extend(_entry("invalidate", participant, "signature", signature_id,
                          reason=f"{entity} {record_id} changed") for signature_id in voided)
    return entries


def _synchronise(session: Session, model: type[Any], ids: Sequence[int],
                 values: dict[str, Any]) -> None:
    """Copies in the session of rows a Core UPDATE changed take the new values
    (what the ORM's own bulk UPDATE does)."""
    for row_id in ids:
        instance = session.identity_map.get(identity_key(model, row_id))
        if instance is not None:
            for name, value in values.items():
                set_committed_value(instance, name, value)


# --- queries ----------------------------------------------------------------

def raise_query(session: Session, actor: Actor, record: FormRecordMixin, field: str,
                text: str, *, automatic: bool = False) -> DataQuery:
    if not automatic:
        _require(actor, RAISERS, "Only monitors and data managers raise queries.",
                 "Seuls les moniteurs et data managers émettent des requêtes.")
    participant = visible_participant(session, actor, record.participant_id)  # type: ignore[attr-defined]
    if field not in type(record).__table__.columns:  # type: ignore[attr-defined]
        raise InvalidInput(f"Unknown field {field!r}.", f"Champ inconnu {field!r}.", field="field")
    text = text.strip()
    if not text:
        raise InvalidInput("Write the question.", "Rédigez la question.", field="text")
    now = utcnow()
    raiser_id, raiser = (None, AUTOMATIC_RAISER) if automatic else (actor.user_id, actor.name)
    query = DataQuery(participant_id=participant.id, entity=_entity(record), record_id=record.id,
                      field=field, status=QueryStatus.OPEN, raised_at=now,
                      raised_by_id=raiser_id, raised_by_name=raiser)
    query.messages.append(QueryMessage(written_at=now, author_id=raiser_id,
                                       author_name=raiser, kind="raise", text=text))
    session.add(query)
    session.flush()
    audit.record(session, actor, _entry("query", participant, _entity(record), record.id,
                                         {field: [None, None]}, reason=text))
    return query


def get_query(session: Session, actor: Actor, query_id: int) -> DataQuery:
    query = session.get(DataQuery, query_id)
    if query is None:
        raise NotFound("No such query.", "Requête introuvable.")
    visible_participant(session, actor, query.participant_id)
    return query


def _move(session: Session, actor: Actor, query: DataQuery, kind: str, text: str,
          status: QueryStatus) -> DataQuery:
    participant = visible_participant(session, actor, query.participant_id)
    now = utcnow()
    query.messages.append(QueryMessage(written_at=now, author_id=actor.user_id,
                                       author_name=actor.name, kind=kind, text=text.strip()))
    old = query.status
    query.status = status
    query.closed_at = now if status is QueryStatus.CLOSED else None
    session.flush()
    audit.record(session, actor, _entry(f"query_{kind}", participant, "data_query", query.id,
                                         {"status": [old, status]}, reason=text.strip() or None))
    return query


def answer_query(session: Session, actor: Actor, query: DataQuery, text: str) -> DataQuery:
    _require(actor, ANSWERERS, "Queries are answered by the site's staff.",
             "Les requêtes sont traitées par l'équipe du centre.")
    if query.status is QueryStatus.CLOSED:
        raise InvalidInput("This query is closed.", "Cette requête est close.")
    if not text.strip():
        raise InvalidInput("Write an answer.", "Rédigez une réponse.", field="text")
    return _move(session, actor, query, "answer", text, QueryStatus.ANSWERED)


def close_query(session: Session, actor: Actor, query: DataQuery, text: str = "") -> DataQuery:
    _require_raiser(actor, query)
    return _move(session, actor, query, "close", text, QueryStatus.CLOSED)


def reopen_query(session: Session, actor: Actor, query: DataQuery, text: str) -> DataQuery:
    _require_raiser(actor, query)
    if not text.strip():
        raise InvalidInput("Say why the query is reopened.",
                           "Indiquez pourquoi la requête est rouverte.", field="text")
    return _move(session, actor, query, "reopen", text, QueryStatus.OPEN)


def _require_raiser(actor: Actor, query: DataQuery) -> None:
    """The raiser, a data manager, or for automatic queries any reviewer."""
    if query.raised_by_id is None and actor.role in RAISERS:
        return
    if actor.role is not Role.DATA_MANAGER and actor.user_id != query.raised_by_id:
        raise Forbidden("Only who raised the query, or a data manager, may close or reopen it.",
                        "Seul l'émetteur de la requête, ou un data manager, peut la clore "
                        "ou la rouvrir.")


def open_query_count(session: Session, participant_id: int, entity: str | None = None,
                     record_id: int | None = None, field: str | None = None) -> int:
    """Open or answered queries of a participant, or of one record, or one field."""
    statement = select(func.count(DataQuery.id)).where(
        DataQuery.participant_id == participant_id, DataQuery.status != QueryStatus.CLOSED)
    if entity is not None:
        statement = statement.where(DataQuery.entity == entity, DataQuery.record_id == record_id)
    if field is not None:
        statement = statement.where(DataQuery.field == field)
    return session.scalar(statement) or 0


# --- source data verification -------------------------------------------------

def verify(session: Session, actor: Actor, record: FormRecordMixin) -> RecordReview:
    _require(actor, frozenset({Role.MONITOR}), "Only monitors verify source data.",
             "Seuls les moniteurs vérifient les données source.")
    participant = visible_participant(session, actor, record.participant_id)  # type: ignore[attr-defined]
    review = _review(session, participant.id, _entity(record), record.id, create=True)
    assert review is not None
    review.verified_at, review.verified_by = utcnow(), actor.name
    session.flush()
    audit.record(session, actor, _entry("verify", participant, _entity(record), record.id))
    return review


# --- signatures ---------------------------------------------------------------

def _canonical_record(record: FormRecordMixin) -> dict[str, Any]:
    columns = type(record).__table__.columns  # type: ignore[attr-defined]
    return {c.name: audit.jsonable(getattr(record, c.key)) for c in columns
            if c.name not in _VOLATILE}


def content_hash(session: Session, participant: Participant, entity: str,
                 record_id: int) -> str:
    """SHA-256 of a record, or of the participant's whole casebook."""
    if entity == CASEBOOK:
        content: Any = {
            name: [_canonical_record(r) for r in session.scalars(
                select(model).where(model.participant_id == participant.id)  # type: ignore[attr-defined]
                .order_by(model.id))]
            for name, model in sorted(form_models().items())
        }
    else:
        model = form_models()[entity]
        record = session.get(model, record_id)
        if record is None:
            raise NotFound("No such record.", "Fiche introuvable.")
        content = _canonical_record(record)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def sign(session: Session, actor: Actor, participant: Participant, entity: str,
         record_id: int, *, password: str, meaning: SignatureMeaning) -> Signature:
    """Sign a form or a casebook; the password is asked again (21 CFR 11.200)."""
    _require(actor, SIGNERS, "Only investigators sign.", "Seuls les investigateurs signent.")
    visible_participant(session, actor, participant.id)
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not password_matches(user, password):
        audit.record(session, actor, _entry("failed_sign", participant, entity, record_id))
        raise InvalidInput("The password is not correct: nothing was signed.",
                           "Le mot de passe est incorrect : rien n'a été signé.", field="password")
    signature = Signature(
        participant_id=participant.id, entity=entity, record_id=record_id, signer_id=user.id,
        signer_name=user.display_name, signed_at=utcnow(), meaning=meaning,
        content_hash=content_hash(session, participant, entity, record_id),
    )
    session.add(signature)
    session.flush()
    audit.record(session, actor, _entry("sign", participant, entity, record_id,
                                         {"meaning": [None, meaning],
                                          "content_hash": [None, signature.content_hash]}))
    return signature


# --- locks --------------------------------------------------------------------

def lock(session: Session, actor: Actor, participant: Participant, entity: str,
         record_id: int) -> RecordReview:
    """Lock a form, or freeze a participant (entity 'participant')."""
    _require(actor, LOCKERS, "Only data managers lock data.",
             "Seuls les data managers verrouillent les données.")
    visible_participant(session, actor, participant.id)
    scope = (None, None) if entity == CASEBOOK else (entity, record_id)
    if open_query_count(session, participant.id, *scope):
        raise InvalidInput("Close the open queries before locking.",
                           "Clôturez les requêtes ouvertes avant de verrouiller.")
    review = _review(session, participant.id, entity, record_id, create=True)
    assert review is not None
    review.locked_at, review.locked_by = utcnow(), actor.name
    session.flush()
    audit.record(session, actor, _entry("lock", participant, entity, record_id))
    return review


def unlock(session: Session, actor: Actor, participant: Participant, entity: str,
           record_id: int, reason: str) -> RecordReview:
    _require(actor, LOCKERS, "Only data managers unlock data.",
             "Seuls les data managers déverrouillent les données.")
    visible_participant(session, actor, participant.id)
    if not reason.strip():
        raise InvalidInput("Give a reason for unlocking.",
                           "Indiquez le motif du déverrouillage.", field="reason")
    review = _review(session, participant.id, entity, record_id)
    if review is None or review.locked_at is None:
        raise InvalidInput("These data are not locked.", "Ces données ne sont pas verrouillées.")
    review.locked_at, review.locked_by = None, None
    session.flush()
    audit.record(session, actor, _entry("unlock", participant, entity, record_id,
                                         reason=reason.strip()))
    return review


# --- reading the review state ---------------------------------------------------

@dataclass(frozen=True)
class RecordState:
    """What a reviewer needs to see about one record (or the casebook)."""

    entity: str
    record_id: int
    record: FormRecordMixin | None
    verified_at: datetime | None
    verified_by: str | None
    locked_at: datetime | None
    locked_by: str | None
    signatures: tuple[Signature, ...]
    open_queries: int

    @property
    def valid_signatures(self) -> tuple[Signature, ...]:
        return tuple(s for s in self.signatures if s.invalidated_at is None)


def _in_study_order(models: dict[str, type[FormRecordMixin]]
                    ) -> list[tuple[str, type[FormRecordMixin]]]:
    """The forms in the order the study defines them (forms/), as every page lists
    them: the registry's own order changes from one process to the next."""
    order = {spec.model.__tablename__: index for index, spec in enumerate(load_forms().values())}
    return sorted(models.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


def record_states(session: Session, participant: Participant) -> list[RecordState]:
    """The casebook first, then every live record of every form, with their review state."""
    reviews = {(r.entity, r.record_id): r for r in session.scalars(
        select(RecordReview).where(RecordReview.participant_id == participant.id))}
    signatures: dict[tuple[str, int], list[Signature]] = {}
    for signature in session.scalars(select(Signature).where(
            Signature.participant_id == participant.id).order_by(Signature.id)):
        signatures.setdefault((signature.entity, signature.record_id), []).append(signature)
    queries: dict[tuple[str, int], int] = {}
    for entity, record_id in session.execute(select(DataQuery.entity, DataQuery.record_id).where(
            DataQuery.participant_id == participant.id, DataQuery.status != QueryStatus.CLOSED)):
        queries[(entity, record_id)] = queries.get((entity, record_id), 0) + 1

    def state(entity: str, record_id: int, record: FormRecordMixin | None) -> RecordState:
        found = reviews.get((entity, record_id))
        return RecordState(
            entity, record_id, record,
            found.verified_at if found else None, found.verified_by if found else None,
            found.locked_at if found else None, found.locked_by if found else None,
            tuple(signatures.get((entity, record_id), ())),
            sum(queries.values()) if entity == CASEBOOK else queries.get((entity, record_id), 0),
        )

    states = [state(CASEBOOK, participant.id, None)]
    for entity, model in _in_study_order(form_models()):
        for record in session.scalars(select(model).where(
                model.participant_id == participant.id,  # type: ignore[attr-defined]
                model.is_deleted.is_(False)).order_by(model.id)):
            states.append(state(entity, record.id, record))
    return states


def site_queries(session: Session, actor: Actor,
                 status: QueryStatus | None = None) -> list[tuple[DataQuery, str]]:
    """Queries of the sites the actor sees, oldest first, with the study number."""
    statement = (select(DataQuery, Participant.study_number)
                 .join(Participant, Participant.id == DataQuery.participant_id)
                 .order_by(DataQuery.raised_at))
    if not actor.all_sites:
        statement = statement.where(Participant.site_id.in_(actor.site_ids))
    if status is not None:
        statement = statement.where(DataQuery.status == status)
    return [(query, number) for query, number in session.execute(statement)]
