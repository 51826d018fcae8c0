import json

import pytest

from chatbot.knowledge.loaders import LoadError, load_file

TOPIC = """---
id: demo
title: Demo topic
sources:
  - title: "NHS: Demo"
    url: https://www.nhs.uk/conditions/demo/
synonyms: [demo pain, 演示]
---

# Demo topic

## What it is
A demo condition.

## When to call emergency services
Call if very unwell.
"""


def _pdf_with_text(text: str) -> bytes:
    """A minimal one-page PDF with a text stream (enough for pypdf to extract)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_markdown_sections_carry_title_url_heading_and_synonyms(tmp_path):
    f = tmp_path / "demo.md"
    f.write_text(TOPIC)
    sections = load_file(f)
    assert [s.heading for s in sections] == ["What it is", "When to call emergency services"]
    assert sections[0].title == "Demo topic"
    assert sections[0].url == "https://www.nhs.uk/conditions/demo/"
    assert sections[0].topic_id == "demo"
    assert "演示" in sections[0].keywords


def test_plain_text_html_and_pdf(tmp_path):
    (tmp_path / "note.txt").write_text("Drink water when you have a fever.")
    assert "water" in load_file(tmp_path / "note.txt")[0].text
    (tmp_path / "page.html").write_text(
        "<html><head><title>Flu</title><link rel='canonical' href='https://x.org/flu'></head>"
        "<body><script>evil()</script><h1>Flu</h1><p>Rest and fluids.</p></body></html>"
    )
    html = load_file(tmp_path / "page.html")[0]
    assert html.title == "Flu" and html.url == "https://x.org/flu"
    assert "Rest and fluids" in html.text and "evil" not in html.text
    (tmp_path / "doc.pdf").write_bytes(_pdf_with_text("Wash your hands often"))
    pdf = load_file(tmp_path / "doc.pdf")
    assert "Wash your hands" in pdf[0].text and pdf[0].heading == "page 1"


def test_medquad_xml_and_jsonl(tmp_path):
    (tmp_path / "q.xml").write_text(
        '<Document id="1" source="GHR" url="https://ghr.example/x"><Focus>Gout</Focus><QAPairs>'
        '<QAPair pid="1"><Question qtype="information">What is gout?</Question>'
        "<Answer>Gout is arthritis.</Answer></QAPair>"
        '<QAPair pid="2"><Question qtype="treatment">How to treat?</Question><Answer></Answer></QAPair>'
        "</QAPairs></Document>"
    )
    xml = load_file(tmp_path / "q.xml")
    assert len(xml) == 1 and xml[0].title == "Gout" and xml[0].heading == "What is gout?"
    rows = [
        {"question": "What is asthma?", "answer": "A lung condition.", "focus": "Asthma", "url": "https://a"},
        {"question": "No answer", "answer": ""},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    jl = load_file(tmp_path / "m.jsonl")
    assert len(jl) == 1 and jl[0].title == "Asthma" and jl[0].url == "https://a"


def test_medlineplus_health_topic_xml(tmp_path):
    (tmp_path / "mp.xml").write_text(
        '<health-topics><health-topic title="Asthma" url="https://medlineplus.gov/asthma.html">'
        "<also-called>Bronchial asthma</also-called>"
        "<full-summary>&lt;p&gt;Asthma is a chronic disease.&lt;/p&gt;</full-summary></health-topic></health-topics>"
    )
    (s,) = load_file(tmp_path / "mp.xml")
    assert s.title == "Asthma" and "chronic disease" in s.text and s.keywords == ["Bronchial asthma"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"   \n", "empty"),
        ("bin.txt", b"abc\x00\x01\x02", "binary"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "UTF-8"),
        ("bad.md", b"---\ntitle: [unclosed\n---\nbody", "front matter"),
        ("bad.xml", b"<Document><Focus>x</Focus>", "malformed XML"),
        ("other.xml", b"<rss></rss>", "unknown XML"),
        ("bad.jsonl", b'{"answer": "ok"}\n{broken', "line 2"),
        ("bad.pdf", b"%PDF-1.4 garbage", "PDF"),
        ("x.docx", b"data", "unsupported"),
    ],
)
def test_bad_files_raise_load_error_with_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError, match=reason):
        load_file(path)
