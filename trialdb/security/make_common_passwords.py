"""Regenerate `common_passwords.txt`, the bundled list of passwords too common to use.

No public list can be downloaded where trialdb is built, so the list is made
from the patterns that dominate every published leak: words people pick
(English and French), keyboard walks, digit runs, years, and those words with
the suffixes people add. The check in `trialdb.security.passwords` also strips
digit and punctuation suffixes and undoes common letter-for-symbol swaps, so
the file does not need every variant.

    python -m trialdb.security.make_common_passwords
"""

from __future__ import annotations

from pathlib import Path

WORDS_EN = """
password passw0rd passwd pass word letmein welcome welcome1 admin administrator root user
login master secret qwerty qwertyuiop qwertyuiopasdfghjkl asdfgh asdfghjkl zxcvbn zxcvbnm
iloveyou love lover loveme princess sunshine shadow monkey dragon football baseball
basketball soccer hockey superman batman spiderman starwars pokemon charlie michael
jennifer jordan hunter ranger buster thomas robert daniel jessica ashley amanda nicole
matthew andrew joshua summer winter spring autumn freedom whatever trustno1 trustnoone
computer internet hello hellothere goodbye changeme default guest test tester testing
access flower flowers cookie cheese chocolate banana orange apple purple yellow silver
golden diamond killer pepper ginger maggie tigger snoopy mickey minnie garfield
mustang ferrari porsche mercedes harley yankees liverpool chelsea arsenal barcelona
manchester united london newyork paris france england america canada germany
hospital doctor nurse patient medical health research clinical study trial cohort
database data server system network office company business money dollar
blessed jesus christ god angel heaven forever family friends friend happy smile
lovely beautiful sweetheart baby babygirl babyboy mother father sister brother
whatever123 nothing something everything abc abcdef abcdefg abcdefgh abcdefghijkl
alpha beta gamma delta omega zulu qazwsx qazwsxedc 1qaz2wsx 1q2w3e4r 1q2w3e4r5t
zaq12wsx q1w2e3r4 q1w2e3r4t5 a1b2c3 a1b2c3d4 aa123456 password1 password12 password123
mypassword yourpassword newpassword oldpassword thepassword passwordpassword
iloveyou123 letmeinplease opensesame secretpassword supersecret topsecret
correcthorse horsebattery batterystaple
"""

WORDS_FR = """
motdepasse motdepass mdp azerty azertyuiop azertyuiopqsdfghjklm qsdfgh qsdfghjklm wxcvbn
wxcvbnm soleil bonjour bonsoir salut coucou chouchou doudou loulou nounours bisous
jetaime jeteaime amour monamour mamour cheri cherie tresor princesse chaton chatte
chocolat fromage baguette croissant marseille lyon toulouse bordeaux lille nantes nice
strasbourg montpellier rennes allezlesbleus olympique psg parisiens football foot
marine julien nicolas camille manon thomas lucas enzo louis hugo chloe emma lea
maman papa famille enfant enfants bebe soleil123 liberte egalite fraternite france
bienvenue administrateur utilisateur secret motdepassesecret motdepasse123
hopital medecin infirmier infirmiere patient recherche etude essai cohorte clinique
ordinateur internet informatique bureau travail vacances printemps ete automne hiver
doudou123 azerty123 loulou123 marseille13 paris75 toulousain bretagne normandie
"""

KEYBOARD_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "azertyuiop", "qsdfghjklm", "wxcvbn",
                 "1234567890", "0987654321", "poiuytreza", "mlkjhgfdsq", "poiuytrewq",
                 "lkjhgfdsa", "mnbvcxz", "qwertzuiop", "yxcvbnm"]
# Walks down the keyboard's columns (QWERTY and AZERTY), kept from 6 keys on.
COLUMN_WALKS = ["1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p", "qazwsxedcrfvtgbyhnujmikolp",
                "zaq1xsw2cde3vfr4bgt5nhy6mju7", "1aqw2zsx3edc4rfv5tgb6yhn7ujn8ik9ol0pm",
                "aqwzsxedcrfvtgbyhnujkiolpm", "wxcvbnqsdfghjklmazertyuiop", "1q2w3e4r5t6y7u8i9o0p",
                "1a2z3e4r5t6y7u8i9o0p", "q1w2e3r4t5y6u7i8o9p0", "a1z2e3r4t5y6u7i8o9p0"]
SUFFIXES = ["", "1", "12", "123", "1234", "12345", "123456", "!", "!!", "1!", "123!", "01",
            "007", "69", "99", "00", "2000", "2020", "2021", "2022", "2023", "2024", "2025"]


def _walks() -> set[str]:
    walks: set[str] = set()
    for row in KEYBOARD_ROWS:
        for start in range(len(row)):
            for end in range(start + 4, len(row) + 1):
                walks.add(row[start:end])
        walks.add(row + row)
    for walk in COLUMN_WALKS:
        walks |= {walk[:end] for end in range(6, len(walk) + 1)}
    return walks


def _digit_runs() -> set[str]:
    runs = {"1234567890"[:n] for n in range(4, 11)}
    runs |= {"0123456789"[:n] for n in range(4, 11)}
    runs |= {"9876543210"[:n] for n in range(4, 11)}
    runs |= {d * n for d in "0123456789" for n in range(4, 17)}
    runs |= {str(year) for year in range(1940, 2041)}
    runs |= {"123123", "123321", "121212", "112233", "123123123", "147258369", "159753",
             "147852369", "741852963", "696969", "112358", "314159", "271828"}
    return runs


def build() -> list[str]:
    words = set(WORDS_EN.split()) | set(WORDS_FR.split())
    entries = set(words) | _walks() | _digit_runs()
    for word in sorted(words):
        entries |= {word + suffix for suffix in SUFFIXES}
        entries.add(word.capitalize())
        entries.add(word + word)
    return sorted({e.lower() for e in entries if len(e) >= 4})


def main() -> None:
    target = Path(__file__).with_name("common_passwords.txt")
    lines = build()
    target.write_text("# Passwords too common to use; see make_common_passwords.py.\n"
                      + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} entries written to {target}")


if __name__ == "__main__":
    main()
