"""The design pages in docs/ are what code comments cite: no pointer to documents outside the repository, and
every ``docs/<page>.md#<anchor>`` cited from code, configs, tools, tests, README or docs resolves to a heading."""
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'
FAMILY_PAGES = ('convnext_v2.md', 'convmae.md', 'itpn.md', 'conv2former.md')
# every family page answers the same three questions under the same headings
REQUIRED_SECTIONS = ('what-is-official', 'what-we-changed-and-why', 'quirks-we-reproduce')
SCANNED = ('mmconvmae', 'configs', 'tools', 'tests', 'docs', 'README.md')
SUFFIXES = {'.py', '.md', '.yml', '.yaml', '.sh', '.txt', '.cfg', '.toml'}
# written in pieces so that this file does not match itself
FORBIDDEN = {
    'spec' + ' \u00a7': 'a section of a specification that is not part of the repository',
    'shared/' + 'reference': 'notes outside the repository',
    '../' + 'shared': 'a path outside the repository',
}
CITATION = re.compile(r'docs/([A-Za-z0-9_\-]+\.md)#([A-Za-z0-9_\-]+)')
LOCAL_LINK = re.compile(r'\]\((?:\./)?([A-Za-z0-9_\-]+\.md)?#([A-Za-z0-9_\-]+)\)')


def github_slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped (letters, digits, spaces, ``-``
    and ``_`` kept), spaces -> ``-``."""
    text = unicodedata.normalize('NFC', heading.strip().lower())
    text = ''.join(c for c in text if c in ' -_' or unicodedata.category(c)[0] in 'LN')
    return text.replace(' ', '-')


def anchors(page: Path) -> set:
    """Anchors of every heading of ``page`` (outside code fences), with GitHub's ``-1``, ``-2`` suffixes for
    repeated headings."""
    seen, out, fenced = {}, set(), False
    for line in page.read_text(encoding='utf-8').splitlines():
        if line.lstrip().startswith(('```', '~~~')):
            fenced = not fenced
            continue
        match = re.match(r'^(#{1,6})\s+(.*?)\s*#*\s*$', line)
        if fenced or not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f'{slug}-{count}')
    return out


def scanned_files():
    for name in SCANNED:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(path.rglob('*'))
        for f in files:
            if f.is_file() and f.suffix in SUFFIXES and '__pycache__' not in f.parts:
                yield f


def test_github_slug():
    assert github_slug('Pretraining (`mmconvmae.ConvMAEPretrain`, mmpretrain)') == \
        'pretraining-mmconvmaeconvmaepretrain-mmpretrain'
    assert github_slug('FCMAE pt_only encoders') == 'fcmae-pt_only-encoders'
    assert github_slug('GRN statistics: per sample or whole batch') == 'grn-statistics-per-sample-or-whole-batch'
    assert github_slug('What we changed and why') == 'what-we-changed-and-why'


def test_anchors_number_repeated_headings(tmp_path):
    page = tmp_path / 'p.md'
    page.write_text('# A\n## Notes\n```bash\n# not a heading\n```\n### Notes\n')
    assert anchors(page) == {'a', 'notes', 'notes-1'}


def test_no_reference_to_documents_outside_the_repository():
    found = []
    for f in scanned_files():
        for lineno, line in enumerate(f.read_text(encoding='utf-8', errors='replace').splitlines(), 1):
            for needle, what in FORBIDDEN.items():
                if needle in line:
                    found.append(f'{f.relative_to(ROOT)}:{lineno}: {what}: {line.strip()}')
    assert not found, 'cite docs/<family>.md#<section> or the official upstream file instead:\n' + '\n'.join(found)


def test_cited_doc_anchors_exist():
    pages = {p.name: anchors(p) for p in DOCS.glob('*.md')}
    broken, cited = [], 0
    for f in scanned_files():
        text = f.read_text(encoding='utf-8', errors='replace')
        links = [(m.group(1), m.group(2)) for m in CITATION.finditer(text)]
        if f.parent == DOCS:  # in-page (#x) and sibling (other.md#x) links of the design pages
            links += [(m.group(1) or f.name, m.group(2)) for m in LOCAL_LINK.finditer(text)]
        for page, anchor in links:
            cited += 1
            if page not in pages:
                broken.append(f'{f.relative_to(ROOT)}: docs/{page} does not exist')
            elif anchor not in pages[page]:
                broken.append(f'{f.relative_to(ROOT)}: docs/{page} has no heading with anchor #{anchor}')
    assert cited > 0
    assert not broken, '\n'.join(broken)


@pytest.mark.parametrize('page', FAMILY_PAGES)
def test_family_page_has_the_design_sections(page):
    missing = set(REQUIRED_SECTIONS) - anchors(DOCS / page)
    assert not missing, f'docs/{page} lacks the sections {sorted(missing)}'
