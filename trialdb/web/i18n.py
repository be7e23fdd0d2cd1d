"""Interface text in French (default) and English."""

from __future__ import annotations

from flask import session

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

_TEXT: dict[str, tuple[str, str]] = {
    # key: (French, English)
    "app_name": ("trialdb · CMV après CAR-T", "trialdb · CMV after CAR-T"),
    "sign_in": ("Connexion", "Sign in"),
    "sign_out": ("Déconnexion", "Sign out"),
    "email": ("Adresse électronique", "E-mail address"),
    "password": ("Mot de passe", "Password"),
    "bad_credentials": ("Adresse ou mot de passe incorrect.", "Wrong e-mail address or password."),
    "locked": ("Trop d'échecs : compte verrouillé jusqu'à {until} (UTC).",
               "Too many failures: account locked until {until} (UTC)."),
    "signed_out_idle": ("Session expirée après inactivité : reconnectez-vous.",
                        "Session expired after inactivity: sign in again."),
    "please_sign_in": ("Connectez-vous pour accéder à cette page.",
                       "Sign in to reach this page."),
    "dashboard": ("Tableau de bord", "Dashboard"),
    "new_participant": ("Nouveau participant", "New participant"),
    "dictionary": ("Dictionnaire des données", "Data dictionary"),
    "admin": ("Comptes", "Accounts"),
    "site": ("Centre", "Site"),
    "participants": ("Participants", "Participants"),
    "participant": ("Participant", "Participant"),
    "status": ("Statut", "Status"),
    "total": ("Total", "Total"),
    "empty": ("Vide", "Empty"),
    "in_progress": ("En cours", "In progress"),
    "complete": ("Complète", "Complete"),
    "queried": ("Question ouverte", "Queried"),
    "verified": ("Vérifiée", "Verified"),
    "signed": ("Signée", "Signed"),
    "locked_form": ("Verrouillée", "Locked"),
    "legend": ("Légende", "Legend"),
    "legend_precedence": ("Chaque case montre le premier état qui s'applique, dans l'ordre de "
                          "la légende : requête ouverte, verrouillée (ou dossier gelé), signée, "
                          "vérifiée, complète, en cours, vide.",
                          "Each cell shows the first status that applies, in the legend's "
                          "order: queried, locked (or casebook frozen), signed, verified, "
                          "complete, in progress, empty."),
    "open_queries_label": ("Requêtes ouvertes", "Open queries"),
    "due_points": ("Charges virales CMV attendues", "CMV viral loads due"),
    "due": ("À faire", "Due"),
    "overdue": ("En retard", "Overdue"),
    "window": ("Fenêtre", "Window"),
    "time_point": ("Temps", "Time point"),
    "nothing_due": ("Aucun prélèvement attendu ni en retard.", "Nothing due or overdue."),
    "no_participants": ("Aucun participant dans ce centre.", "No participant at this site."),
    "save": ("Enregistrer", "Save"),
    "cancel": ("Annuler", "Cancel"),
    "back": ("Retour", "Back"),
    "add": ("Ajouter", "Add"),
    "open": ("Ouvrir", "Open"),
    "edit": ("Modifier", "Edit"),
    "delete": ("Supprimer", "Delete"),
    "delete_reason": ("Motif de la suppression", "Reason for deletion"),
    "saved": ("Enregistré.", "Saved."),
    "deleted": ("Supprimé.", "Deleted."),
    "fix_errors": ("Corrigez les champs signalés : rien n'a été enregistré.",
                   "Correct the fields flagged: nothing was saved."),
    "confirm_needed": ("Valeurs inhabituelles : vérifiez-les, cochez la confirmation puis "
                       "enregistrez.", "Unusual values: check them, tick the confirmation and "
                       "save again."),
    "part": ("Partie de l'étude", "Study part"),
    "sex": ("Sexe", "Sex"),
    "birth_year": ("Année de naissance", "Birth year"),
    "birth_month": ("Mois de naissance", "Birth month"),
    "screened_on": ("Date de pré-inclusion", "Screening date"),
    "create_participant": ("Créer le participant", "Create the participant"),
    "created_number": ("Participant créé : numéro {number}.", "Participant created: number {number}."),
    "pseudonym_note": ("Aucun nom, initiales, date de naissance complète ni numéro hospitalier : "
                       "la table de correspondance reste au centre.",
                       "No name, initials, full date of birth or hospital number: the key stays "
                       "at the site."),
    "screening": ("Pré-inclusion", "Screening"),
    "eligibility_decision": ("Décision d'éligibilité", "Eligibility decision"),
    "eligible": ("Éligible", "Eligible"),
    "not_eligible": ("Non éligible", "Not eligible"),
    "pending": ("En attente", "Pending"),
    "reasons": ("Motifs", "Reasons"),
    "required_signatories": ("Signatures requises", "Signatures required"),
    "recommended_signatories": ("Recommandé", "Recommended"),
    "minor_at_consent": ("Mineur à la date du consentement", "Minor on the date of consent"),
    "adult_at_consent": ("Majeur à la date du consentement", "Adult on the date of consent"),
    "birthday_month_default": ("mois des 18 ans : mineur faute de déclaration de l'investigateur",
                               "month of the 18th birthday: a minor unless the investigator "
                               "states otherwise"),
    "birthday_month_stated": ("mois des 18 ans : selon la déclaration de l'investigateur",
                              "month of the 18th birthday: as stated by the investigator"),
    "consent_valid": ("Consentement valide", "Consent valid"),
    "consent_invalid": ("Consentement incomplet ou non valide", "Consent incomplete or not valid"),
    "include": ("Inclure", "Include"),
    "included_on": ("Date d'inclusion", "Inclusion date"),
    "included": ("Participant inclus.", "Participant included."),
    "inclusion_blocked": ("Inclusion possible quand l'éligibilité et le consentement le "
                          "permettent.", "Inclusion is possible once eligibility and consent "
                          "allow it."),
    "forms": ("Fiches", "Forms"),
    "records": ("fiche(s)", "record(s)"),
    "chart_title": ("Charges virales (log10) par jour d'étude", "Viral loads (log10) by study day"),
    "chart_empty": ("Aucune charge virale saisie.", "No viral load entered yet."),
    "not_quantified": ("< LQ ou non détecté", "< LLOQ or not detected"),
    "study_day": ("Jour", "Day"),
    "enter_loads": ("Saisir des charges virales", "Enter viral loads"),
    "loads_grid_help": ("Une ligne par résultat. Tab/Entrée pour avancer ; collez le résultat "
                        "tel qu'imprimé (<62, ND, 1,2E+04). L'aperçu montre ce qui sera "
                        "enregistré.", "One row per result. Tab/Enter to move on; type the "
                        "result as printed (<62, ND, 1.2E+04). The preview shows what will be "
                        "stored."),
    "preview": ("Aperçu", "Preview"),
    "save_all": ("Tout enregistrer", "Save all"),
    "add_rows": ("Ajouter 5 lignes", "Add 5 rows"),
    "sampled_on": ("Date", "Date"),
    "virus": ("Virus", "Virus"),
    "specimen": ("Prélèvement", "Specimen"),
    "assay": ("Technique", "Assay"),
    "result": ("Résultat imprimé", "Result as printed"),
    "unit": ("Unité", "Unit"),
    "state": ("État", "State"),
    "value": ("Valeur", "Value"),
    "log10": ("log10", "log10"),
    "loads_saved": ("{count} résultat(s) enregistré(s).", "{count} result(s) saved."),
    "existing_loads": ("Résultats enregistrés", "Saved results"),
    "no_assay": ("Aucune technique n'est déclarée : demandez à un administrateur d'en créer.",
                 "No assay is declared: ask an administrator to create one."),
    "genes": ("Gènes séquencés", "Genes sequenced"),
    "mutations": ("Mutations", "Mutations"),
    "mutations_help": ("Gène et substitution, séparés par des virgules : UL54 G841A, UL97 A594V",
                       "Gene and change, separated by commas: UL54 G841A, UL97 A594V"),
    "susceptibility": ("Sensibilité par antiviral", "Susceptibility per drug"),
    "not_done": ("Non fait", "Not done"),
    "not_interpreted": ("Non rendu", "Not reported"),
    "users": ("Comptes utilisateurs", "User accounts"),
    "new_user": ("Nouveau compte", "New account"),
    "display_name": ("Nom affiché", "Display name"),
    "role": ("Rôle", "Role"),
    "sites": ("Centres", "Sites"),
    "all_sites": ("Accès à toute l'étude", "Study-wide access"),
    "active": ("Actif", "Active"),
    "inactive": ("Désactivé", "Deactivated"),
    "deactivate": ("Désactiver", "Deactivate"),
    "reactivate": ("Réactiver", "Reactivate"),
    "last_login": ("Dernière connexion", "Last sign-in"),
    "field": ("Champ", "Field"),
    "form": ("Fiche", "Form"),
    "type": ("Type", "Type"),
    "label": ("Libellé", "Label"),
    "codes": ("Codes", "Codes"),
    "limits": ("Limites", "Limits"),
    "soft_limits": ("Limites d'alerte", "Soft limits"),
    "download_csv": ("Télécharger (CSV)", "Download (CSV)"),
    "error": ("Erreur", "Error"),
    "not_found": ("Page ou participant introuvable.", "Page or participant not found."),
    "forbidden": ("Vous n'avez pas accès à cette action.", "You may not do this."),
    "bad_request": ("Requête invalide.", "Bad request."),
    "csrf": ("Le formulaire a expiré : rechargez la page et recommencez.",
             "The form expired: reload the page and try again."),
    "integrity": ("Ces valeurs contredisent une règle de la base de données ; rien n'a été "
                  "enregistré. Vérifiez les dates et les champs liés.",
                  "These values break a database rule; nothing was saved. Check dates and "
                  "related fields."),
    "method": ("Méthode non autorisée.", "Method not allowed."),
    "read_only": ("Votre rôle permet la consultation seulement.", "Your role is read-only."),
    "language": ("English", "Français"),
    "today": ("Aujourd'hui", "Today"),
    "d0": ("J0", "D0"),
    "no_d0": ("Infusion non saisie", "Infusion not entered"),
    "age": ("Âge", "Age"),
    "years": ("ans", "years"),
    "antiviral_courses": ("Antiviraux", "Antivirals"),
    "reason_needed": ("Fiche complète : motif obligatoire pour la modifier.",
                      "Complete form: a reason is required to change it."),
    "required_mark": ("obligatoire", "required"),
    "month_names": ("janv.,févr.,mars,avr.,mai,juin,juil.,août,sept.,oct.,nov.,déc.",
                    "Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec"),
    "choose": ("— choisir —", "— choose —"),
    "account_saved": ("Compte enregistré.", "Account saved."),
    "account_created": ("Compte créé.", "Account created."),
    "showing_site": ("Centre affiché", "Site shown"),
    "grid_title": ("État des fiches", "Form status"),
    "tab_eligibility": ("1. Éligibilité", "1. Eligibility"),
    "tab_consent": ("2. Consentement / non-opposition", "2. Consent / non-opposition"),
    "no_site": ("Aucun centre ne vous est attribué.", "No site is assigned to you."),
    # review: queries, verification, signatures, locks, audit trail
    "review": ("Revue", "Review"),
    "review_title": ("Revue des données", "Data review"),
    "casebook": ("Dossier complet", "Whole casebook"),
    "record": ("Fiche n°", "Record no."),
    "verify": ("Marquer vérifiée", "Mark verified"),
    "verified_by_on": ("Vérifiée par {name} le {when}", "Verified by {name} on {when}"),
    "not_verified": ("Non vérifiée", "Not verified"),
    "lock": ("Verrouiller", "Lock"),
    "freeze": ("Geler le dossier", "Freeze the casebook"),
    "unlock": ("Déverrouiller", "Unlock"),
    "locked_by_on": ("Verrouillée par {name} le {when}", "Locked by {name} on {when}"),
    "sign": ("Signer", "Sign"),
    "sign_again_password": ("Mot de passe (signature)", "Password (signature)"),
    "meaning": ("Signification", "Meaning"),
    "signature_line": ("Signé par {name} le {when} (UTC) — {meaning}",
                       "Signed by {name} on {when} (UTC) — {meaning}"),
    "signature_void": ("Signature invalidée le {when} (données modifiées)",
                       "Signature invalidated on {when} (data changed)"),
    "meaning_reviewed_and_approved": ("Revu et approuvé", "Reviewed and approved"),
    "meaning_author": ("Auteur des données", "Author of the data"),
    "meaning_responsibility": ("Responsabilité de l'investigateur", "Investigator's responsibility"),
    "queries": ("Requêtes", "Queries"),
    "query": ("Requête", "Query"),
    "raise_query": ("Émettre une requête", "Raise a query"),
    "question": ("Question", "Question"),
    "answer": ("Répondre", "Answer"),
    "close_query": ("Clore", "Close"),
    "reopen_query": ("Rouvrir", "Reopen"),
    "query_open": ("Ouverte", "Open"),
    "query_answered": ("Répondue", "Answered"),
    "query_closed": ("Close", "Closed"),
    "age_days": ("Âge (jours)", "Age (days)"),
    "raised_by": ("Émise par", "Raised by"),
    "no_queries": ("Aucune requête.", "No queries."),
    "open_queries": ("{n} requête(s) ouverte(s)", "{n} open quer(ies)"),
    "message": ("Message", "Message"),
    "history": ("Historique", "History"),
    "trail": ("Piste d'audit", "Audit trail"),
    "when_utc": ("Date (UTC)", "When (UTC)"),
    "who": ("Qui", "Who"),
    "action": ("Action", "Action"),
    "old_value": ("Ancienne valeur", "Old value"),
    "new_value": ("Nouvelle valeur", "New value"),
    "reason": ("Motif", "Reason"),
    "audit_export": ("Export de la piste d'audit", "Audit trail export"),
    "from_day": ("Du", "From"),
    "to_day": ("Au", "To"),
    "bad_dates": ("Dates invalides.", "Invalid dates."),
    "review_done": ("Enregistré.", "Done."),
    # navigation: laboratory upload (importer roles), exports (statisticians, data managers)
    "lab_upload": ("Import laboratoire", "Lab import"),
    "exports": ("Exports", "Exports"),
    # assays (administrators and data managers)
    "assays": ("Techniques de PCR", "PCR assays"),
    "new_assay": ("Nouvelle technique", "New assay"),
    "assays_intro": ("Chaque résultat de charge virale nomme sa technique : seuils (LD, LQ) "
                     "dans l'unité de la technique ; pour le CMV, le facteur copies par UI "
                     "propre à la technique (jamais de constante).",
                     "Every viral-load result names its assay: limits (LoD, LLOQ) in the "
                     "assay's unit; for CMV, the assay's own copies-per-IU factor (never a "
                     "constant)."),
    "no_assay_yet": ("Aucune technique déclarée.", "No assay declared yet."),
    "assay_name": ("Nom de la technique", "Assay name"),
    "assay_name_help": ("Tel qu'imprimé par le laboratoire, par exemple « Abbott RealTime CMV "
                        "(plasma) ».", "As the laboratory prints it, e.g. 'Abbott RealTime CMV "
                        "(plasma)'."),
    "assay_unit_help": ("TTV, redondovirus et pegivirus : copies/mL (pas de standard "
                        "international).", "TTV, redondovirus and pegivirus: copies/mL (no "
                        "international standard)."),
    "in_assay_unit": ("Dans l'unité de la technique ; facultatif.",
                      "In the assay's unit; optional."),
    "limit_of_detection": ("Limite de détection (LD)", "Limit of detection (LoD)"),
    "lloq": ("Limite inférieure de quantification (LQ)",
             "Lower limit of quantification (LLOQ)"),
    "copies_per_iu": ("Facteur copies par UI", "Copies per IU factor"),
    "copies_per_iu_help": ("CMV seulement : 1 UI = ce nombre de copies pour cette technique "
                           "(publiés : environ 0,4 à 2,2). Laisser vide s'il est inconnu.",
                           "CMV only: 1 IU = this many copies for this assay (published: "
                           "about 0.4 to 2.2). Leave empty when unknown."),
    "assay_reason_help": ("Obligatoire : des résultats utilisent cette technique.",
                          "Required: results use this assay."),
    "results_using": ("Résultats", "Results"),
    "assay_in_use": ("{n} résultat(s) utilisent cette technique : virus, prélèvement et unité "
                     "ne peuvent plus changer, et toute modification demande un motif.",
                     "{n} result(s) use this assay: virus, specimen and unit can no longer "
                     "change, and any change needs a reason."),
    "assay_created": ("Technique créée.", "Assay created."),
    "assay_saved": ("Technique enregistrée.", "Assay saved."),
    # changing one's own password (every signed-in user, page header)
    "change_password": ("Changer de mot de passe", "Change password"),
    "current_password": ("Mot de passe actuel", "Current password"),
    "new_password": ("Nouveau mot de passe", "New password"),
    "new_password_again": ("Nouveau mot de passe, à nouveau", "New password again"),
    "password_policy_help": ("Au moins {n} caractères, pas un mot de passe courant : une phrase "
                             "de plusieurs mots sans rapport convient bien.",
                             "At least {n} characters, not a common password: a phrase of "
                             "several unrelated words works well."),
    "password_change_ends_sessions": ("Vos autres sessions ouvertes (autres navigateurs, "
                                      "autres postes) prendront fin ; celle-ci continue.",
                                      "Your other open sessions (other browsers, other "
                                      "computers) will end; this one goes on."),
    "wrong_current_password": ("Mot de passe actuel incorrect (compté comme un échec de "
                               "connexion).", "Wrong current password (counted as a failed "
                               "sign-in)."),
    "password_changed": ("Mot de passe changé ; vos autres sessions sont fermées.",
                         "Password changed; your other sessions are closed."),
}


def language() -> str:
    lang = session.get("lang", DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, **values: object) -> str:
    fr, en = _TEXT.get(key, (key, key))
    text = fr if language() == "fr" else en
    return text.format(**values) if values else text


def keys() -> frozenset[str]:
    return frozenset(_TEXT)
