"""Fixed reference data of the demo: sites, laboratory assays, staff accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from trialdb.services.cohort import AssaySpec
from trialdb.vocab import LoadUnit, Role, Specimen, Virus

#: The demo's "today": data extracted on this date; nothing is dated later.
REFERENCE_DATE: Final = date(2026, 10, 15)
#: The study opened on this date; prospective screening starts then.
STUDY_OPENED: Final = date(2023, 11, 6)


@dataclass(frozen=True, slots=True)
class DemoSite:
    code: str
    name: str
    city: str
    weight: float  # share of adult recruitment
    child_weight: float  # share of paediatric recruitment
    cmv_assay: str  # the site's CMV blood assay
    number_style: str  # how its laboratory prints numbers


@dataclass(frozen=True, slots=True)
class DemoAccount:
    email: str
    display_name: str
    role: Role
    password: str
    site_codes: tuple[str, ...] = ()


CMV_PLASMA: Final = "CMV plasma qPCR (demo, IU/mL)"
CMV_WHOLE_BLOOD: Final = "CMV whole-blood qPCR (demo, copies/mL)"
TTV_PLASMA: Final = "TTV plasma qPCR (demo)"
REDONDO_PLASMA: Final = "Redondovirus plasma qPCR (demo)"
PEGI_PLASMA: Final = "HPgV-1 plasma qPCR (demo)"

ASSAYS: Final = (
    AssaySpec(CMV_PLASMA, Virus.CMV, Specimen.PLASMA, LoadUnit.IU_PER_ML,
              limit_of_detection=21.0, lloq=35.0, copies_per_iu=1.1),
    AssaySpec(CMV_WHOLE_BLOOD, Virus.CMV, Specimen.WHOLE_BLOOD, LoadUnit.COPIES_PER_ML,
              limit_of_detection=25.0, lloq=62.0, copies_per_iu=1.6),
    AssaySpec(TTV_PLASMA, Virus.TTV, Specimen.PLASMA, LoadUnit.COPIES_PER_ML,
              limit_of_detection=100.0, lloq=250.0),
    AssaySpec(REDONDO_PLASMA, Virus.REDONDOVIRUS, Specimen.PLASMA, LoadUnit.COPIES_PER_ML,
              limit_of_detection=200.0, lloq=500.0),
    AssaySpec(PEGI_PLASMA, Virus.PEGIVIRUS, Specimen.PLASMA, LoadUnit.COPIES_PER_ML,
              limit_of_detection=100.0, lloq=500.0),
)
ASSAY_BY_NAME: Final = {spec.name: spec for spec in ASSAYS}

SITES: Final = (
    DemoSite("PSL", "Hôpital Pitié-Salpêtrière (démo)", "Paris", 0.30, 0.0, CMV_PLASMA, "grouped"),
    DemoSite("SLS", "Hôpital Saint-Louis (démo)", "Paris", 0.27, 0.20, CMV_PLASMA, "plain"),
    DemoSite("HEGP", "Hôpital européen Georges-Pompidou (démo)", "Paris", 0.18, 0.0,
             CMV_PLASMA, "grouped"),
    DemoSite("NCK", "Hôpital Necker-Enfants malades (démo)", "Paris", 0.0, 0.80,
             CMV_PLASMA, "plain"),
    DemoSite("LYS", "Centre hospitalier Lyon-Sud (démo)", "Pierre-Bénite", 0.25, 0.0,
             CMV_WHOLE_BLOOD, "scientific"),
)
SITE_BY_CODE: Final = {site.code: site for site in SITES}


def _accounts() -> tuple[DemoAccount, ...]:
    coordinators = tuple(
        DemoAccount(f"coordinator.{site.code.lower()}@demo.trialdb.invalid",
                    f"Coordination {site.code} (démo)", Role.COORDINATOR,
                    f"demo-coordinator-{site.code.lower()}", (site.code,))
        for site in SITES
    )
    return (*coordinators,
            DemoAccount("investigator@demo.trialdb.invalid", "Investigation PSL (démo)",
                        Role.INVESTIGATOR, "demo-investigator", ("PSL", "SLS")),
            DemoAccount("monitor@demo.trialdb.invalid", "Monitoring (démo)", Role.MONITOR,
                        "demo-monitor-2024", tuple(site.code for site in SITES)),
            DemoAccount("data-manager@demo.trialdb.invalid", "Data management (démo)",
                        Role.DATA_MANAGER, "demo-data-manager"),
            DemoAccount("statistician@demo.trialdb.invalid", "Statistiques (démo)",
                        Role.STATISTICIAN, "demo-statistician"),
            DemoAccount("admin@demo.trialdb.invalid", "Administration (démo)", Role.ADMIN,
                        "demo-administrator"))


ACCOUNTS: Final = _accounts()
