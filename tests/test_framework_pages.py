"""The public framework pages: the current version, any published or retired version, drafts hidden."""

import html
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from requirements.loader import load_framework
from requirements.models import Framework
from tests.test_framework_loader import DOMAIN_TITLES, document, render

REAL_FILE = Path(settings.BASE_DIR) / "fixtures" / "frameworks" / "mh-social-work-2026.toml"
CURRENT_URL = reverse("requirements:current")


@pytest.fixture
def framework(db):
    """The project's framework, loaded from its file."""
    return load_framework(path=REAL_FILE).framework


@pytest.fixture
def load(db, tmp_path):
    """Load a test framework document; returns the framework."""

    def load_document(doc: dict) -> Framework:
        path = tmp_path / f"{doc['framework']['slug']}-{doc['framework']['version']}.toml"
        path.write_text(render(doc), encoding="utf-8")
        return load_framework(path=path).framework

    return load_document


def detail_url(framework: Framework) -> str:
    return reverse("requirements:detail", args=[framework.slug, framework.version])


def text_of(response) -> str:
    """The page's visible text, with tags removed and whitespace collapsed."""
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


class TestCurrentFramework:
    def test_anonymous_visitor_reads_every_requirement(self, client, framework):
        """Without signing in, the page shows each requirement's code, title, guidance and typical evidence."""
        response = client.get(CURRENT_URL)

        assert response.status_code == 200
        text = text_of(response)
        for requirement in framework.requirements.all():
            assert f"{requirement.code}: {requirement.title}" in text
            assert " ".join(requirement.what_good_looks_like.split()[:12]) in text
            for item in requirement.typical_evidence_items:
                assert item in text
        assert set(DOMAIN_TITLES.values()) <= {r.title for r in framework.requirements.all()}

    def test_page_shows_framework_facts_and_source_note(self, client, framework):
        """Title, publisher, version, publication date, status and the honest source note are on the page."""
        text = text_of(client.get(CURRENT_URL))

        assert framework.title in text
        assert "Health Education England (2021)" in text
        assert "2026.1" in text
        assert "1 April 2026" in text
        assert "Published" in text
        assert "not the official wording" in text

    def test_contents_list_links_to_each_requirement(self, client, framework):
        """The contents list links to an anchor for every requirement, the scale and the indicators."""
        page = client.get(CURRENT_URL).content.decode()

        for requirement in framework.requirements.all():
            anchor = f"requirement-{requirement.code.lower()}"
            assert f'href="#{anchor}"' in page
            assert f'id="{anchor}"' in page
        assert 'href="#rating-scale"' in page
        assert 'href="#workforce-indicators"' in page

    def test_rating_scale_shows_number_label_and_meaning(self, client, framework):
        """Each rating level appears with its number and its label together, and what it means."""
        text = text_of(client.get(CURRENT_URL))

        for level in framework.rating_levels.all():
            assert f"{level.value} – {level.label}" in text
            assert level.meaning in text

    def test_workforce_indicators_show_how_they_are_counted(self, client, framework):
        """Each indicator has its definition, numerator and denominator, and data source."""
        text = text_of(client.get(CURRENT_URL))

        for indicator in framework.indicators.all():
            assert indicator.label in text
            assert indicator.definition in text
            assert indicator.numerator_label in text
            assert indicator.denominator_label in text
            assert indicator.data_source in text
        assert text.count("Special category data") >= 2

    def test_current_is_the_newest_published_version(self, client, load):
        """A newer draft does not replace the published version on the current page."""
        load(document(version="1"))
        draft = document(version="2", status="draft")
        draft["requirements"][0]["title"] = "Draft-only title"
        load(draft)

        text = text_of(client.get(CURRENT_URL))

        assert "Requirement number 1" in text
        assert "Draft-only title" not in text

    def test_no_published_framework_is_a_friendly_not_found(self, client, load):
        """With nothing published the page says so, with status 404."""
        load(document(status="draft"))

        response = client.get(CURRENT_URL)

        assert response.status_code == 404
        assert "No framework published yet" in response.content.decode()

    @pytest.mark.parametrize("person", ["lead", "ics_lead", "outsider"])
    def test_signed_in_people_read_it_too(self, client_for, framework, person, request):
        """Signed-in people of any role read the same page."""
        response = client_for(request.getfixturevalue(person)).get(CURRENT_URL)

        assert response.status_code == 200
        assert "R8: Wellbeing, equality and inclusion" in text_of(response)


class TestVersionPage:
    def test_anonymous_visitor_reads_a_published_version(self, client, framework):
        """A version's own address works without signing in."""
        response = client.get(detail_url(framework))

        assert response.status_code == 200
        assert "R3: Professional supervision" in text_of(response)

    def test_current_page_links_to_the_version(self, client, framework):
        """The current page gives the lasting address of the version it shows."""
        assert f'href="{detail_url(framework)}"' in client.get(CURRENT_URL).content.decode()

    def test_unknown_version_is_not_found(self, client, framework):
        """A version that does not exist gives 404."""
        response = client.get(reverse("requirements:detail", args=[framework.slug, "1999.1"]))

        assert response.status_code == 404

    def test_draft_is_not_found_for_anonymous_visitors(self, client, load):
        """Drafts are not public."""
        draft = load(document(status="draft"))

        assert client.get(detail_url(draft)).status_code == 404

    @pytest.mark.parametrize("person", ["lead", "executive", "ics_lead"])
    def test_draft_is_not_found_for_trust_and_ics_people(self, client_for, load, person, request):
        """Only platform administrators see drafts; every other role gets 404."""
        draft = load(document(status="draft"))

        assert client_for(request.getfixturevalue(person)).get(detail_url(draft)).status_code == 404

    def test_administrator_previews_a_draft(self, client_for, administrator, load):
        """Platform administrators can read a draft before it is published, marked as a draft."""
        draft = load(document(status="draft"))

        response = client_for(administrator).get(detail_url(draft))

        assert response.status_code == 200
        assert "Only platform administrators can see this version" in text_of(response)

    def test_retired_version_points_to_the_current_one(self, client, load):
        """A retired version stays readable and links to the version that replaced it."""
        old = load(document(version="1", status="retired"))
        new = load(document(version="2"))

        response = client.get(detail_url(old))

        assert response.status_code == 200
        text = text_of(response)
        assert "This version has been retired" in text
        assert "Retired" in text
        assert f'href="{detail_url(new)}"' in response.content.decode()

    def test_retired_version_without_a_successor_says_so(self, client, load):
        """When no version is published, a retired one says that nothing replaces it yet."""
        old = load(document(status="retired"))

        text = text_of(client.get(detail_url(old)))

        assert "No version of this framework is published at the moment" in text

    def test_current_version_has_no_retirement_note(self, client, framework):
        """The current version does not warn about newer versions."""
        text = text_of(client.get(detail_url(framework)))

        assert "This version has been retired" not in text
        assert "There is a newer version" not in text

    def test_older_published_version_points_to_the_newer_one(self, client, load):
        """Two published versions: the older one says a newer version exists."""
        old = load(document(version="1"))
        new = load(document(version="2"))

        response = client.get(detail_url(old))

        assert "There is a newer version" in text_of(response)
        assert f'href="{detail_url(new)}"' in response.content.decode()


class TestPageRules:
    @pytest.mark.parametrize("url_name", ["current", "detail"])
    def test_post_is_not_allowed(self, client, framework, url_name):
        """The pages only read: POST gives 405."""
        url = CURRENT_URL if url_name == "current" else detail_url(framework)

        assert client.post(url).status_code == 405

    def test_head_is_allowed(self, client, framework):
        """HEAD works like GET, for link checkers."""
        assert client.head(CURRENT_URL).status_code == 200

    def test_no_inline_styles_or_scripts(self, client, framework):
        """The strict content security policy allows no inline style or script."""
        page = client.get(CURRENT_URL).content.decode()

        assert " style=" not in page
        assert "<style" not in page
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page))

    def test_text_from_the_file_is_escaped(self, client, load):
        """Framework text is shown as text, never as markup."""
        doc = document()
        doc["requirements"][0]["title"] = "<script>alert(1)</script>"
        load(doc)

        page = client.get(CURRENT_URL).content.decode()

        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    def test_query_count_is_fixed_for_the_current_page(self, client, framework, django_assert_num_queries):
        """One query for the version and one each for requirements, levels and indicators."""
        with django_assert_num_queries(4):
            assert client.get(CURRENT_URL).status_code == 200

    def test_query_count_is_fixed_for_a_version_page(self, client, framework, django_assert_num_queries):
        """The version page adds one query, to find the current version."""
        with django_assert_num_queries(5):
            assert client.get(detail_url(framework)).status_code == 200

    def test_query_count_does_not_grow_with_requirements(self, client, load, django_assert_num_queries):
        """Twenty requirements cost the same queries as eight."""
        load(document(requirements=20, levels=6))

        with django_assert_num_queries(4):
            response = client.get(CURRENT_URL)

        assert "R20: Requirement number 20" in text_of(response)


class TestAdmin:
    def test_administrator_edits_an_unused_version(self, client_for, administrator, load):
        """An unused version's fields and entries can be edited in the admin."""
        framework = load(document())

        page = client_for(administrator).get(reverse("admin:requirements_framework_change", args=[framework.pk]))

        content = page.content.decode()
        assert page.status_code == 200
        assert 'name="title"' in content
        assert 'name="requirements-0-title"' in content
        assert '<option value="draft"' in content

    def test_used_version_is_read_only_except_its_status(self, client_for, administrator, load):
        """A version that assessments use shows its content read-only; only published or retired can be chosen."""
        from tests.test_framework_loader import use_in_assessment

        framework = load(document())
        use_in_assessment(framework)

        page = client_for(administrator).get(reverse("admin:requirements_framework_change", args=[framework.pk]))

        content = page.content.decode()
        assert page.status_code == 200
        assert 'name="title"' not in content
        assert 'name="requirements-0-title"' not in content
        assert "Requirement number 1" in content
        assert 'name="status"' in content
        assert '<option value="draft"' not in content
        assert '<option value="retired"' in content

    def test_administrator_retires_a_used_version(self, client_for, administrator, load):
        """Retiring a used version through the admin is allowed and changes nothing else."""
        from tests.test_framework_loader import use_in_assessment

        framework = load(document())
        use_in_assessment(framework)
        url = reverse("admin:requirements_framework_change", args=[framework.pk])

        client = client_for(administrator)
        form = client.get(url).content.decode()
        # Post what the browser would: the hidden inline management fields, and the new status.
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))

        response = client.post(url, {**hidden, "status": "retired"})

        assert response.status_code == 302
        framework.refresh_from_db()
        assert framework.status == "retired"
        assert framework.requirements.count() == 3

    def test_trust_lead_cannot_reach_the_admin(self, client_for, lead, load):
        """The admin is for platform administrators only."""
        framework = load(document())

        response = client_for(lead).get(reverse("admin:requirements_framework_change", args=[framework.pk]))

        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
