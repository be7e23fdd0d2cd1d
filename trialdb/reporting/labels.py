"""French and English labels of the codes the reports print that are not
enumerations of trialdb.vocab (those are labelled from forms/codes.yaml by
`trialdb.crf.definitions.code_label`): audit actions, query message kinds and
the reasons a participant is left out of the analysis set. An unknown code is
printed as it is."""

from __future__ import annotations

from typing import Final

#: code -> (English, French)
AUDIT_ACTIONS: Final[dict[str, tuple[str, str]]] = {
    "create": ("created", "création"),
    "update": ("updated", "modification"),
    "delete": ("deleted", "suppression"),
    "restore": ("restored", "restauration"),
    "verify": ("verified", "vérification"),
    "unverify": ("verification withdrawn", "vérification retirée"),
    "sign": ("signed", "signature"),
    "unsign": ("signature withdrawn", "signature retirée"),
    "lock": ("locked", "verrouillage"),
    "unlock": ("unlocked", "déverrouillage"),
    "complete": ("marked complete", "marquée complète"),
    "query": ("query", "requête"),
    "import": ("imported", "import"),
    "export": ("exported", "export"),
    "withdraw": ("withdrawal", "retrait"),
}

#: DataQuery message kinds (the CHECK constraint of query_message.kind)
QUERY_MESSAGE_KINDS: Final[dict[str, tuple[str, str]]] = {
    "raise": ("raised", "émise"),
    "answer": ("answer", "réponse"),
    "close": ("closed", "close"),
    "reopen": ("reopened", "rouverte"),
}

#: reasons of trialdb.analysis.dataset.Exclusion and TimeToEventDataset.exclusion_counts
EXCLUSION_REASONS: Final[dict[str, tuple[str, str]]] = {
    "withdrawn_data_excluded": ("withdrawn with data excluded",
                                "retrait avec données exclues"),
    "no_infusion": ("no CAR-T infusion recorded", "pas de perfusion de CAR-T saisie"),
    "prevalent_dnaemia": ("prevalent DNAemia (reported apart)",
                          "ADNémie prévalente (rapportée à part)"),
}

#: trialdb.analysis.day90.ModelResult.name
MODEL_NAMES: Final[dict[str, tuple[str, str]]] = {
    "cause_specific_cox": ("Cause-specific Cox model", "Modèle de Cox cause-spécifique"),
    "fine_gray": ("Fine–Gray model", "Modèle de Fine–Gray"),
    "time_varying_cause_specific_cox": ("Time-varying cause-specific Cox model",
                                        "Modèle de Cox cause-spécifique à covariables dépendant "
                                        "du temps"),
}


def label(table: dict[str, tuple[str, str]], code: str | None, language: str) -> str:
    """The label of `code` in `language` ('en' or 'fr'); the code itself when unknown."""
    if code is None:
        return "—"
    names = table.get(code)
    if names is None:
        return code
    return names[1] if language == "fr" else names[0]
