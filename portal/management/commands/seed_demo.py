"""Demo data for a newcomer: the framework, the NHS organisations, sign-ins and assessments.

Every assessment state is there for somebody to look at: Leeds and York has two approved
years and a carried-forward draft; the other trusts of the two demo ICBs each show one of
the other states. Assessments are built through ``assessments.services``, so their audit
trails read as if people had done the work.

Idempotent: running it again changes nothing (a trust that already has an assessment is
left alone). Refuses to run outside development unless forced, because every demo account
shares one published password.
"""

import datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessments import services
from assessments.models import Assessment, Cycle, EvidenceItem, EvidenceKind
from assessments.workflow_forms import sign_off_statement
from portal import two_factor
from portal.models import ICB, ICBMembership, Trust, TrustMembership, TrustRole, User
from requirements.models import Framework

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - published in the README, development only

# Two real ICBs and their mental health trusts; the main demo people work at Leeds and York.
DEMO_ICBS = ["QWO", "QYG"]  # West Yorkshire; Cheshire and Merseyside
DEMO_TRUST = "RGD"  # Leeds and York Partnership NHS Foundation Trust
OTHER_TRUST = "RW4"  # Mersey Care NHS Foundation Trust, in the other demo ICB

DEMO_PEOPLE = [
    # email, name, job title, trust or ICB ODS code, role (None for an ICS lead)
    ("lead@example.nhs.uk", "Priya Shah", "Principal social worker", DEMO_TRUST, TrustRole.LEAD),
    ("contributor@example.nhs.uk", "Tom Okafor", "AMHP service lead", DEMO_TRUST, TrustRole.CONTRIBUTOR),
    ("analyst@example.nhs.uk", "Grace Lin", "Workforce analyst", DEMO_TRUST, TrustRole.CONTRIBUTOR),
    ("executive@example.nhs.uk", "Helen Marsh", "Chief Nurse", DEMO_TRUST, TrustRole.EXECUTIVE),
    ("board@example.nhs.uk", "David Reid", "Non-executive director", DEMO_TRUST, TrustRole.BOARD_READER),
    ("lead.tad@example.nhs.uk", "Joanne Whitaker", "Head of social work", "TAD", TrustRole.LEAD),
    ("executive.tad@example.nhs.uk", "Richard Akhtar", "Director of Nursing and Quality", "TAD", TrustRole.EXECUTIVE),
    ("lead.rxg@example.nhs.uk", "Catherine Brooke", "Principal social worker", "RXG", TrustRole.LEAD),
    ("executive.rxg@example.nhs.uk", "Marcus Lee", "Chief Nurse", "RXG", TrustRole.EXECUTIVE),
    ("lead.rxa@example.nhs.uk", "Owen Price", "Head of social work", "RXA", TrustRole.LEAD),
    ("executive.rxa@example.nhs.uk", "Fiona Gallagher", "Chief People Officer", "RXA", TrustRole.EXECUTIVE),
    ("mersey.lead@example.nhs.uk", "Sam Carter", "Head of social work", OTHER_TRUST, TrustRole.LEAD),
    (
        "mersey.executive@example.nhs.uk",
        "Nadia Rahman",
        "Executive Director of Nursing",
        OTHER_TRUST,
        TrustRole.EXECUTIVE,
    ),
    ("ics@example.nhs.uk", "Amira Hassan", "ICS mental health workforce lead", "QWO", None),
    ("ics.qyg@example.nhs.uk", "Ben Walsh", "ICS people and workforce lead", "QYG", None),
]
ADMIN = ("admin@example.nhs.uk", "Alex Morgan", "Platform administrator")

# label, snapshot date, submission deadline (the shape the test cycles use)
DEMO_CYCLES = [
    ("2024/25", datetime.date(2024, 3, 31), datetime.date(2024, 6, 28)),
    ("2025/26", datetime.date(2025, 3, 31), datetime.date(2025, 6, 30)),
    ("2026/27", datetime.date(2026, 3, 31), datetime.date(2026, 6, 30)),
]

# ---- what the demo trusts wrote ---------------------------------------------------------------
# Rationale by requirement code and rating band: "low" (1 or 2), "mid" (3), "high" (4).
RATIONALE = {
    "R1": {
        "low": "There is no named executive accountable for social work. Social work is mentioned in the "
        "people plan only in passing and the board has not had a report on social work in the last year.",
        "mid": "The Chief Nurse is the named executive for social work and the annual social work report "
        "went to the People Committee in January. Social work is not yet visible in the trust strategy.",
        "high": "The executive lead for social work is named in the scheme of delegation, social work has "
        "its own section in the strategy and people plan, and the board receives an annual report and a "
        "mid-year update, with actions followed up in the committee's action log.",
    },
    "R2": {
        "low": "The principal social worker post is 0.4 WTE and combined with a team manager role. There is "
        "no direct line to the executive lead and social work is not represented in clinical governance.",
        "mid": "A full-time principal social worker meets the executive lead monthly and sits on the "
        "professional standards group. Service-line social work leads are in place in two of three care groups.",
        "high": "The principal social worker is full-time at band 8c, reports directly to the executive lead "
        "and sits on the quality committee. Every care group has a named social work lead with protected time.",
    },
    "R3": {
        "low": "Supervision is mostly by line managers from other professions. The last audit found 58% of "
        "social workers had professional supervision from a registered social worker at the agreed frequency.",
        "mid": "The supervision policy requires monthly professional supervision by a registered social worker. "
        "The October audit found 84% compliance; AMHP supervision is in place but not yet audited.",
        "high": "Professional supervision is recorded in the e-supervision tool and audited quarterly: 95% of "
        "social workers and all AMHPs were supervised at the agreed frequency in the last two quarters.",
    },
    "R4": {
        "low": "There is no protected CPD time for social workers and funding for AMHP and BIA training is "
        "agreed case by case. ASYE is run by the local authority with little trust involvement.",
        "mid": "Social workers have 5 days of protected CPD a year. The trust funds 4 AMHP and 2 BIA training "
        "places a year and runs ASYE jointly with the council. Practice educator capacity is thin.",
        "high": "Protected CPD time, a funded post-qualifying pathway (AMHP, BIA, practice educator, approved "
        "clinician) and an ASYE programme assessed as good by the teaching partnership.",
    },
    "R5": {
        "low": "Most social workers hold generic care coordinator job descriptions. There is no social work "
        "career pathway beyond band 6 and few senior roles are open to social workers.",
        "mid": "A social work career framework was agreed in 2025 with senior practitioner and consultant roles. "
        "Job descriptions have been revised in community teams but not yet in inpatient services.",
        "high": "The career pathway runs from ASYE to consultant social worker and is used in appraisal. Job "
        "descriptions name Care Act, Mental Health Act and Mental Capacity Act duties.",
    },
    "R6": {
        "low": "The section 75 agreement expired in 2023 and is rolled over informally. There is no joint "
        "governance with the local authority's principal social worker.",
        "mid": "The section 75 agreement is current (review due March 2027) and a joint governance group meets "
        "quarterly. Case recording systems are still separate, which slows Care Act assessments.",
        "high": "Current section 75 agreements with both councils, a joint social work board chaired alternately "
        "by the two principal social workers, and shared access to the councils' case records.",
    },
    "R7": {
        "low": "Social workers are not coded consistently in ESR, so headcount, vacancy and turnover figures "
        "are estimates. There is no social work workforce plan.",
        "mid": "ESR coding was cleaned up in 2025 and a social work dashboard is reported quarterly. A workforce "
        "plan exists but is not yet linked to the ICS people plan.",
        "high": "A social work workforce plan, linked to the ICS people plan, is reviewed twice a year using an "
        "accurate dashboard of posts, vacancies, turnover, diversity, AMHPs and BIAs.",
    },
    "R8": {
        "low": "The trust wellbeing offer is generic. Ethnicity data for social workers by band has not been "
        "analysed and there is no social work staff forum.",
        "mid": "A social work staff forum meets every two months and reflective practice groups are in place. "
        "WRES data by band shows under-representation at band 7 and above; an action plan is being drafted.",
        "high": "Trauma-informed wellbeing support for statutory work, a thriving staff forum and a race equality "
        "plan that has increased ethnic minority representation at band 7 and above for two years running.",
    },
}
STRENGTHS = {
    "R1": "Executive lead attends the social work forum twice a year.",
    "R2": "Principal social worker chairs the professional standards group.",
    "R3": "Group supervision for AMHPs is valued by staff.",
    "R4": "Strong partnership with the regional teaching partnership.",
    "R5": "Consultant social worker posts created in two services.",
    "R6": "Good working relationship with the councils' principal social workers.",
    "R7": "Monthly dashboard produced by the workforce team.",
    "R8": "Staff forum well attended and listened to by the executive.",
}
GAPS = {
    "R1": "Social work not yet a standing item on the People Committee work plan.",
    "R2": "Lead roles in inpatient services not yet recruited.",
    "R3": "Supervision recording is inconsistent in crisis teams.",
    "R4": "Practice educator numbers fall short of placement demand.",
    "R5": "Inpatient job descriptions still generic.",
    "R6": "Separate case recording systems slow joint work.",
    "R7": "Turnover data is not broken down by team.",
    "R8": "Ethnic minority social workers are under-represented at band 7 and above.",
}
EVIDENCE = [
    # code, title, owner, how many days before the snapshot it is dated
    ("R1", "Annual social work report to the People Committee", "Executive lead for social work", 70),
    ("R2", "Social work professional leadership structure", "Principal social worker", 200),
    ("R3", "Professional supervision policy", "Principal social worker", 400),
    ("R3", "Supervision compliance audit", "Clinical audit team", 40),
    ("R4", "Post-qualifying training plan", "Learning and development", 120),
    ("R5", "Social work career pathway", "Principal social worker", 300),
    ("R6", "Section 75 partnership agreement", "Director of operations", 500),
    ("R7", "Social work workforce dashboard", "Workforce information team", 10),
    ("R8", "Workforce Race Equality Standard report", "Equality and inclusion lead", 150),
]
ACTIONS = [
    # title, requirement codes, owner, months after the snapshot date it is due
    ("Add social work to the People Committee annual work plan", ["R1"], "Executive lead for social work", 3),
    ("Audit AMHP supervision quarterly", ["R3"], "AMHP service lead", 6),
    ("Fund two more practice educator places", ["R4"], "Principal social worker", 9),
    ("Agree a race equality plan for social work", ["R8", "R5"], "Equality and inclusion lead", 12),
]


class DemoTrust:
    """One trust's demo story: its people, ratings by cycle, and what happens in the current cycle."""

    def __init__(self, ods_code, *, ratings, current, figures, reason=""):
        self.ods_code = ods_code
        self.ratings = ratings  # cycle label -> requirement code -> rating (None: not answered)
        self.current = current  # what happens in 2026/27: a state name
        self.figures = figures  # indicator code -> (numerator, denominator or None)
        self.reason = reason


def _r(*values):
    return {f"R{n}": value for n, value in enumerate(values, start=1)}


DEMO_TRUSTS = [
    DemoTrust(
        DEMO_TRUST,
        ratings={
            "2024/25": _r(2, 2, 1, 2, 2, 3, 1, 2),
            "2025/26": _r(3, 3, 2, 3, 2, 3, 2, 2),
            # The lead has reviewed R1 to R3 so far; the rest still say "carried forward: review".
            "2026/27": {"R1": 4, "R2": 3, "R3": 3},
        },
        current="draft",
        figures={"headcount": (212, None), "wte": (Decimal("196.4"), None), "vacancy_rate": (23, 240)},
    ),
    DemoTrust(
        "TAD",
        ratings={
            "2024/25": _r(2, 2, 2, 2, 2, 2, 1, 1),
            "2025/26": _r(2, 3, 2, 2, 3, 2, 2, 1),
            "2026/27": _r(3, 3, 3, 2, 3, 3, 2, 2),
        },
        current="approved",
        figures={"headcount": (96, None), "vacancy_rate": (9, 105), "amhps": (18, None)},
    ),
    DemoTrust(
        "RXG",
        ratings={
            "2024/25": _r(2, 3, 2, 2, 2, 3, 2, 2),
            "2025/26": _r(3, 3, 3, 2, 3, 4, 2, 3),
            "2026/27": _r(3, 4, 3, 3, 3, 4, 3, 3),
        },
        current="awaiting_sign_off",
        figures={
            "headcount": (188, None),
            "vacancy_rate": (14, 190),
            "turnover_rate": (19, 182),
            "supervision_rate": (162, 181),
            "amhps": (41, None),
        },
    ),
    DemoTrust(
        "RXA",
        ratings={
            "2024/25": _r(2, 2, 1, 2, 1, 3, 1, 2),
            "2025/26": _r(2, 2, 2, 3, 1, 3, 2, 2),
            "2026/27": _r(3, 2, 2, 3, 3, 3, 2, 2),
        },
        current="returned",
        figures={"headcount": (131, None), "vacancy_rate": (19, 140)},
        reason="R5 is rated 3 (Largely met) but the career pathway has not been agreed yet. Please review the "
        "rating or add the evidence, and add an action with a date for agreeing the pathway.",
    ),
    DemoTrust(
        OTHER_TRUST,
        ratings={
            "2024/25": _r(3, 3, 3, 3, 2, 3, 2, 3),
            "2025/26": _r(3, 4, 3, 3, 3, 3, 3, 3),
            "2026/27": _r(4, 4, 3, 3, 3, 4, 3, 3),
        },
        current="reopened",
        figures={"headcount": (305, None), "vacancy_rate": (31, 320), "amhps": (58, None)},
        reason="The vacancy figure used the 2025 establishment; correcting it after the ESR reconciliation.",
    ),
]


class Command(BaseCommand):
    help = "Load the framework and organisations, create demo sign-ins and demo assessments (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even when DEBUG is off (never on a live service)."
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates accounts with a published password: run it only with DJANGO_DEBUG=1.")
        fixtures = Path(settings.BASE_DIR) / "fixtures"
        call_command("loaddata", fixtures / "organisations.json", verbosity=0)
        for framework_file in sorted((fixtures / "frameworks").glob("*.toml")):
            call_command("load_framework", framework_file, verbosity=0, stdout=self.stdout)
        with transaction.atomic():
            created = self._people()
        started = self._assessments()
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready ({created} new demo accounts, {started} new demo assessments).")
        )
        self._print_sign_ins()

    # ---- people -----------------------------------------------------------------------------

    def _people(self) -> int:
        created = 0
        codes = {code for _, _, _, code, _ in DEMO_PEOPLE}
        trusts = {t.ods_code: t for t in Trust.objects.filter(ods_code__in=codes)}
        icbs = {i.ods_code: i for i in ICB.objects.filter(ods_code__in=DEMO_ICBS)}
        for email, name, job_title, org_code, role in DEMO_PEOPLE:
            user, was_created = self._user(email, name, job_title)
            created += was_created
            if role is None:
                ICBMembership.objects.get_or_create(user=user, icb=icbs[org_code])
            else:
                TrustMembership.objects.get_or_create(user=user, trust=trusts[org_code], defaults={"role": role})
        _, was_created = self._user(*ADMIN, is_staff=True, is_superuser=True)
        return created + was_created

    def _user(self, email, name, job_title, **flags) -> tuple[User, bool]:
        user, created = User.objects.get_or_create(
            email=email, defaults={"full_name": name, "job_title": job_title, **flags}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if not two_factor.has_authenticator(user):
            two_factor.give_demo_authenticator(user)
        return user, created

    # ---- assessments ------------------------------------------------------------------------

    def _assessments(self) -> int:
        if Framework.objects.current() is None:
            return 0
        cycles = {}
        for label, snapshot_date, deadline in DEMO_CYCLES:
            cycles[label], _ = Cycle.objects.get_or_create(
                label=label, defaults={"snapshot_date": snapshot_date, "submission_deadline": deadline}
            )
        started = 0
        for story in DEMO_TRUSTS:
            trust = Trust.objects.get(ods_code=story.ods_code)
            if Assessment.objects.filter(trust=trust).exists():
                continue  # already seeded: leave the trust's assessments as they are
            with transaction.atomic():
                started += _Story(story, trust, cycles).tell()
        return started

    def _print_sign_ins(self):
        width = max(len(email) for email, *_ in DEMO_PEOPLE) + 2
        self.stdout.write(f"\nDemo sign-ins (password for all: {DEMO_PASSWORD}):")
        for email, name, _job_title, org_code, role in DEMO_PEOPLE:
            what = TrustRole(role).label if role else "ICS lead"
            self.stdout.write(f"  {email:<{width}}{name}, {what} ({org_code})")
        self.stdout.write(f"  {ADMIN[0]:<{width}}{ADMIN[1]}, platform administrator")
        self.stdout.write(
            f"Security code (two-factor sign-in): add the key {two_factor.DEMO_KEY_BASE32} to an authenticator app,\n"
            "or run `.venv/bin/python manage.py demo_code` (`make code`) for the current code.\n"
        )
        self.stdout.write("\nDemo assessments:")
        for assessment in (
            Assessment.objects.filter(trust__ods_code__in=[s.ods_code for s in DEMO_TRUSTS])
            .select_related("trust", "cycle")
            .order_by("trust__ods_code", "cycle__label")
        ):
            state = assessment.get_state_display()
            if assessment.revision > 1:
                state = f"{state} (reopened), revision {assessment.revision}"
            trust = assessment.trust
            self.stdout.write(f"  {trust.ods_code} {trust.name}, {assessment.cycle.label}: {state}")


class _Story:
    """Plays one trust's demo story through the services, as its people would."""

    def __init__(self, story: DemoTrust, trust: Trust, cycles: dict[str, Cycle]):
        self.story = story
        self.trust = trust
        self.cycles = cycles
        members = {m.role: m.user for m in trust.memberships.select_related("user").order_by("user__email")}
        self.lead = members[TrustRole.LEAD]
        self.executive = members[TrustRole.EXECUTIVE]
        self.contributors = [
            m.user
            for m in trust.memberships.filter(role=TrustRole.CONTRIBUTOR).select_related("user").order_by("user__email")
        ]

    def tell(self) -> int:
        labels = sorted(self.story.ratings)
        *earlier, current = labels
        for index, label in enumerate(earlier):
            years_back = len(earlier) - index
            # Earlier years: answered, evidenced, approved. Figures were a little lower then.
            assessment = self._start(label, carry_forward=True)
            self._answer(assessment, self.story.ratings[label])
            self._link_evidence(assessment)
            self._figures(assessment, scale=1 - Decimal("0.06") * years_back)
            self._actions(assessment, ACTIONS[index : index + 2], first_complete=True)
            self._cover_sheet(assessment)
            services.submit_for_sign_off(assessment=assessment, submitted_by=self.lead)
            self._approve(assessment)
        getattr(self, f"_current_{self.story.current}")(current)
        return len(labels)

    # The 2026/27 stories.

    def _current_draft(self, label):
        """Carried forward, partly reviewed, some requirements with contributors, figures under way."""
        assessment = self._start(label, carry_forward=True)
        self._answer(assessment, self.story.ratings[label])
        self._link_evidence(assessment)
        analyst = next((u for u in self.contributors if "analyst" in u.job_title.lower()), self.lead)
        for contributor in self.contributors:
            code = "R7" if contributor == analyst else "R4"
            response = assessment.responses.filter(requirement__code=code).first()
            if response is not None:
                services.assign_response(response=response, assignee=contributor, assigned_by=self.lead)
        self._figures(assessment, by=analyst)
        self._actions(assessment, ACTIONS[1:])
        self._cover_sheet(assessment)

    def _current_awaiting_sign_off(self, label):
        assessment = self._start(label, carry_forward=True)
        self._answer(assessment, self.story.ratings[label])
        self._link_evidence(assessment)
        self._figures(assessment)
        self._actions(assessment, ACTIONS)
        self._cover_sheet(assessment)
        services.submit_for_sign_off(assessment=assessment, submitted_by=self.lead)

    def _current_approved(self, label):
        self._current_awaiting_sign_off(label)
        self._approve(Assessment.objects.get(trust=self.trust, cycle=self.cycles[label]))

    def _current_returned(self, label):
        self._current_awaiting_sign_off(label)
        assessment = Assessment.objects.get(trust=self.trust, cycle=self.cycles[label])
        services.return_assessment(assessment=assessment, returned_by=self.executive, reason=self.story.reason)

    def _current_reopened(self, label):
        self._current_awaiting_sign_off(label)
        assessment = Assessment.objects.get(trust=self.trust, cycle=self.cycles[label])
        self._approve(assessment)
        services.reopen(assessment=assessment, reopened_by=self.lead, reason=self.story.reason)
        vacancy = assessment.framework.indicators.filter(code="vacancy_rate").first()
        if vacancy is not None:
            services.save_indicator_values(
                assessment=assessment, values={vacancy.pk: (Decimal(27), Decimal(320))}, edited_by=self.lead
            )

    # Steps.

    def _start(self, label, *, carry_forward):
        return services.start_assessment(
            trust=self.trust, cycle=self.cycles[label], started_by=self.lead, carry_forward=carry_forward
        )

    def _answer(self, assessment, ratings, *, ready=True):
        levels = {level.value: level for level in assessment.framework.rating_levels.all()}
        for response in assessment.responses.select_related("requirement"):
            code = response.requirement.code
            if code not in ratings:
                continue
            value = ratings[code]
            level = levels.get(value) if value else None
            band = "low" if value and value <= 2 else "high" if value and value >= 4 else "mid"
            texts = RATIONALE.get(code, {})
            services.save_response(
                response=response,
                expected_version=response.version,
                edited_by=self.lead,
                rating=level,
                rationale=texts.get(band, f"Our position on {code} is set out in the evidence.") if level else "",
                strengths=STRENGTHS.get(code, ""),
                gaps_and_risks=GAPS.get(code, "") if value is None or value < 4 else "",
                ready=ready and level is not None,
            )

    def _link_evidence(self, assessment):
        """This year's version of each document; last year's, if carried forward, is unlinked."""
        responses = {
            r.requirement.code: r
            for r in assessment.responses.select_related("requirement").prefetch_related("evidence_links__item")
        }
        snapshot_date = assessment.cycle.snapshot_date
        for code, title, owner, days_before in EVIDENCE:
            response = responses.get(code)
            if response is None or (response.rating_id is None and not response.strengths):
                continue
            dated = f"{title} {assessment.cycle.label}"
            for link in response.evidence_links.all():
                if link.item.title.startswith(title) and link.item.title != dated:
                    services.unlink_evidence(response=response, item=link.item, unlinked_by=self.lead)
            item, _ = EvidenceItem.objects.get_or_create(
                trust=self.trust,
                title=dated,
                defaults={
                    "kind": EvidenceKind.LINK,
                    "evidence_date": snapshot_date - datetime.timedelta(days=days_before),
                    "owner": owner,
                    "url": f"https://intranet.example.nhs.uk/{self.trust.ods_code.lower()}/evidence/"
                    f"{code.lower()}-{assessment.cycle.label.replace('/', '-')}",
                    "description": f"Demo evidence for {code}.",
                    "created_by": self.lead,
                },
            )
            services.link_evidence(response=response, item=item, linked_by=self.lead)

    def _figures(self, assessment, *, by=None, scale=Decimal(1)):
        indicators = {i.code: i for i in assessment.framework.indicators.all()}
        values = {}
        for code, (numerator, denominator) in self.story.figures.items():
            if code not in indicators:
                continue
            numerator = (Decimal(numerator) * scale).quantize(Decimal("0.1") if code == "wte" else Decimal(1))
            values[indicators[code].pk] = (numerator, Decimal(denominator) if denominator else None)
        services.save_indicator_values(assessment=assessment, values=values, edited_by=by or self.lead)

    def _actions(self, assessment, actions, *, first_complete=False):
        requirements = {r.code: r for r in assessment.framework.requirements.all()}
        snapshot_date = assessment.cycle.snapshot_date
        existing = set(assessment.actions.values_list("title", flat=True))
        for n, (title, codes, owner, months) in enumerate(actions):
            if title in existing:  # carried forward from last year
                continue
            due = _add_months(snapshot_date, months)
            services.save_action(
                assessment=assessment,
                edited_by=self.lead,
                title=title,
                requirements=[requirements[c] for c in codes if c in requirements],
                owner=owner,
                due_date=due,
                status="complete" if n == 0 and first_complete else "in_progress",
                progress_notes="",
            )

    def _cover_sheet(self, assessment):
        """The board paper's cover: the People Committee in the June after the snapshot date."""
        snapshot = assessment.cycle.snapshot_date
        services.save_cover_sheet(
            assessment=assessment,
            edited_by=self.lead,
            meeting="people_committee",
            meeting_date=datetime.date(snapshot.year, 6, 12),
            agenda_item="6.1",
            author=f"{self.lead.full_name}, {self.lead.job_title or 'Social work lead'}",
            lead_executive=f"{self.executive.full_name}, {self.executive.job_title or 'Executive sponsor'}",
            purpose="assurance",
            assurance_level="reasonable",
            strategic_objectives="Great place to work; outstanding care through a skilled workforce.",
            baf_risks="BAF 4: workforce supply and retention in community mental health services.",
            recommendation="The committee is asked to note the self-assessment and take reasonable assurance.",
            key_messages=(
                "Social work has a clear voice at executive level and professional supervision is improving. "
                "Workforce data and career progression remain the weakest areas; the improvement plan "
                "targets both, with the ICS people plan."
            ),
            ask_of_the_board="Support the business case for a second AMHP practice educator post.",
        )

    def _approve(self, assessment):
        services.approve(
            assessment=assessment,
            approved_by=self.executive,
            approver_name=self.executive.full_name,
            approver_role=self.executive.job_title or "Executive sponsor",
            statement=sign_off_statement(assessment),
        )


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    return datetime.date(day.year + month // 12, month % 12 + 1, min(day.day, 28))
