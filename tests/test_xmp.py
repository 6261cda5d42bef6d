"""XMP packets: catsort's keyword merged into digiKam's and Lightroom's sidecars, all else kept."""

from __future__ import annotations

import tracemalloc
import xml.etree.ElementTree as ET

import pytest

from catsort.tagging import xmp
from catsort.tagging.xmp import Tag, XmpError

CAT = Tag("cat", "Animals|Cat", 0.9912, 0.8765, "sha256:0123456789abcdef", "2026-12-03T10:00:00Z")
DOG = Tag("dog", "Animals|Dog", 0.9700, 0.8000, "sha256:0123456789abcdef", "2026-12-04T10:00:00Z")

# As digiKam writes it (through Exiv2): a rating, tags in its own TagsList and in the common
# fields, namespaces declared on rdf:Description.
DIGIKAM = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:MicrosoftPhoto="http://ns.microsoft.com/photo/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
   xmp:Rating="4"
   MicrosoftPhoto:Rating="75">
   <digiKam:TagsList>
    <rdf:Seq>
     <rdf:li>Places/Garden</rdf:li>
     <rdf:li>Family/Anna</rdf:li>
    </rdf:Seq>
   </digiKam:TagsList>
   <MicrosoftPhoto:LastKeywordXMP>
    <rdf:Bag>
     <rdf:li>Places/Garden</rdf:li>
     <rdf:li>Family/Anna</rdf:li>
    </rdf:Bag>
   </MicrosoftPhoto:LastKeywordXMP>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>Places|Garden</rdf:li>
     <rdf:li>Family|Anna</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>Garden</rdf:li>
     <rdf:li>Anna</rdf:li>
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
""".encode()

# As Lightroom Classic writes a raw file's sidecar: no xpacket wrapper, a rating, a colour label,
# develop settings, a title in a language alternative, and a hierarchy whose parent is Animals.
LIGHTROOM = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
   xmp:Rating="3"
   xmp:Label="Red"
   crs:Exposure2012="+0.35">
   <dc:title>
    <rdf:Alt>
     <rdf:li xml:lang="x-default">Sunday &amp; the garden</rdf:li>
    </rdf:Alt>
   </dc:title>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>Holiday</rdf:li>
     <rdf:li>Animals</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>Holiday</rdf:li>
     <rdf:li>Animals|Pets</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def fields(data: bytes) -> dict[str, object]:
    """Every property of a packet, read with the standard library's own parser, by full name:
    attributes as text, lists as lists of their items, language alternatives as (lang, text)."""
    root = ET.fromstring(data)
    found: dict[str, object] = {}
    for description in root.iter(f"{_RDF}Description"):
        for key, value in description.attrib.items():
            found[key] = value
        for prop in description:
            containers = [child for child in prop if child.tag.startswith(_RDF)]
            if containers:
                found[prop.tag] = [
                    (dict(item.attrib), item.text or "") for item in containers[0].iter(f"{_RDF}li")
                ]
            else:
                found[prop.tag] = prop.text or ""
    return found


def merged(data: bytes, tag: Tag = CAT) -> bytes:
    packet = xmp.parse(data)
    assert xmp.merge(packet, tag)
    return xmp.serialize(packet)


def items(data: bytes, name: str) -> list[str]:
    value = fields(data)[name]
    assert isinstance(value, list)
    return [text for _, text in value]


DC_SUBJECT = "{http://purl.org/dc/elements/1.1/}subject"
LR_HIERARCHY = "{http://ns.adobe.com/lightroom/1.0/}hierarchicalSubject"
DIGIKAM_TAGS = "{http://www.digikam.org/ns/1.0/}TagsList"


def _without_catsort(found: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in found.items() if xmp.NS_CATSORT not in key}


def test_a_new_packet_holds_the_keyword_the_hierarchy_and_why():
    packet = xmp.new_packet()
    assert xmp.merge(packet, CAT)
    data = xmp.serialize(packet)
    assert data.startswith(b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>')
    assert data.rstrip().endswith(b'<?xpacket end="w"?>')
    assert items(data, DC_SUBJECT) == ["cat"]
    assert items(data, LR_HIERARCHY) == ["Animals|Cat"]
    ours = xmp.catsort_fields(xmp.parse(data))
    assert ours == {
        "label": "cat",
        "confidence": "0.9912",
        "petScore": "0.8765",
        "model": "sha256:0123456789abcdef",
        "date": "2026-12-03T10:00:00Z",
        "addedSubject": "cat",
        "addedHierarchicalSubject": "Animals|Cat",
    }


def test_merging_into_a_digikam_sidecar_keeps_every_field_and_prefix():
    before = fields(DIGIKAM)
    data = merged(DIGIKAM)
    after = _without_catsort(fields(data))
    assert items(data, DC_SUBJECT) == ["Garden", "Anna", "cat"]
    assert items(data, LR_HIERARCHY) == ["Places|Garden", "Family|Anna", "Animals|Cat"]
    # digiKam (and Immich) read their TagsList first where a sidecar has one.
    assert items(data, DIGIKAM_TAGS) == ["Places/Garden", "Family/Anna", "Animals/Cat"]
    changed = {DC_SUBJECT, LR_HIERARCHY, DIGIKAM_TAGS}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }
    assert after["{http://ns.adobe.com/xap/1.0/}Rating"] == "4"
    text = data.decode()
    assert text.startswith(DIGIKAM.decode().split("<x:xmpmeta")[0])  # the wrapper, as it was
    assert text.endswith('</x:xmpmeta>\n<?xpacket end="w"?>\n')
    assert "digiKam:TagsList" in text and "MicrosoftPhoto:Rating" in text and "ns0:" not in text


def test_merging_into_a_lightroom_sidecar_keeps_rating_label_title_and_hierarchy():
    before = fields(LIGHTROOM)
    data = merged(LIGHTROOM)
    after = _without_catsort(fields(data))
    assert items(data, DC_SUBJECT) == ["Holiday", "Animals", "cat"]
    assert items(data, LR_HIERARCHY) == ["Holiday", "Animals|Pets", "Animals|Cat"]
    changed = {DC_SUBJECT, LR_HIERARCHY}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }
    assert after["{http://purl.org/dc/elements/1.1/}title"] == [
        ({"{http://www.w3.org/XML/1998/namespace}lang": "x-default"}, "Sunday & the garden")
    ]
    assert DIGIKAM_TAGS not in after  # not a digiKam sidecar: no TagsList is added
    assert not data.startswith(b"<?xpacket")  # a packet without a wrapper gets none


def test_the_same_decision_again_changes_nothing():
    first = merged(LIGHTROOM)
    packet = xmp.parse(first)
    later = Tag(CAT.label, CAT.hierarchy, CAT.confidence, CAT.pet_score, CAT.model, "2027-01-01")
    assert not xmp.merge(packet, later)
    assert xmp.serialize(packet) == first


def test_a_changed_label_replaces_only_the_keyword_catsort_added():
    data = merged(merged(DIGIKAM, CAT), DOG)
    assert items(data, DC_SUBJECT) == ["Garden", "Anna", "dog"]
    assert items(data, LR_HIERARCHY) == ["Places|Garden", "Family|Anna", "Animals|Dog"]
    assert items(data, DIGIKAM_TAGS) == ["Places/Garden", "Family/Anna", "Animals/Dog"]
    assert xmp.catsort_fields(xmp.parse(data))["label"] == "dog"


def test_a_keyword_the_user_had_before_catsort_survives_a_changed_label():
    users = LIGHTROOM.replace(
        b"<rdf:li>Holiday</rdf:li>\n     <rdf:li>Animals</rdf:li>", b"<rdf:li>cat</rdf:li>"
    )
    first = merged(users, CAT)
    assert items(first, DC_SUBJECT) == ["cat"]  # theirs already: not added twice
    assert "addedSubject" not in xmp.catsort_fields(xmp.parse(first))
    data = merged(first, DOG)
    assert items(data, DC_SUBJECT) == ["cat", "dog"]


def test_a_keyword_the_user_removed_is_not_added_back_for_the_same_label():
    first = merged(LIGHTROOM, CAT)
    removed = first.replace(b"<rdf:li>cat</rdf:li>", b"")
    packet = xmp.parse(removed)
    again = Tag("cat", "Animals|Cat", 0.95, 0.9, CAT.model, "2027-01-01")
    xmp.merge(packet, again)
    assert "cat" not in xmp.keywords(packet)


def unmerged(data: bytes) -> bytes:
    packet = xmp.parse(data)
    assert xmp.unmerge(packet)
    return xmp.serialize(packet)


def test_not_a_pet_takes_out_only_what_catsort_added_and_its_record():
    data = unmerged(merged(DIGIKAM, CAT))
    assert items(data, DC_SUBJECT) == ["Garden", "Anna"]
    assert items(data, LR_HIERARCHY) == ["Places|Garden", "Family|Anna"]
    assert items(data, DIGIKAM_TAGS) == ["Places/Garden", "Family/Anna"]
    assert xmp.catsort_fields(xmp.parse(data)) == {}
    assert _without_catsort(fields(data)) == _without_catsort(fields(DIGIKAM))
    # A keyword the user had before catsort stays theirs.
    users = LIGHTROOM.replace(b"<rdf:li>Holiday</rdf:li>", b"<rdf:li>cat</rdf:li>")
    assert items(unmerged(merged(users, CAT)), DC_SUBJECT) == ["cat", "Animals"]
    assert not xmp.unmerge(xmp.parse(DIGIKAM))  # nothing of catsort's there: nothing to do


def test_a_billion_laughs_packet_is_refused_without_expanding_it():
    entities = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE x:xmpmeta [<!ENTITY lol0 "lol">{entities}]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>'
    ).encode()
    tracemalloc.start()
    try:
        with pytest.raises(XmpError, match="DTD or entities"):
            xmp.parse(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 << 20  # expanded, it would be a billion characters


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not xml at all", "not well-formed XML"),
        (b"<html><body>hi</body></html>", "not x:xmpmeta"),
        (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><a/></x:xmpmeta>', "no rdf:RDF"),
        (
            LIGHTROOM.replace(
                b"<dc:subject>\n    <rdf:Bag>\n     <rdf:li>Holiday</rdf:li>\n"
                b"     <rdf:li>Animals</rdf:li>\n    </rdf:Bag>\n   </dc:subject>",
                b"<dc:subject>Holiday</dc:subject>",
            ),
            "dc:subject is not a list",
        ),
        (b"\xff\xfe<\x00x\x00", "not UTF-8"),
    ],
)
def test_what_is_not_xmp_is_refused_with_the_reason(data, reason):
    with pytest.raises(XmpError, match=reason):
        xmp.parse(data)


def test_comments_and_processing_instructions_inside_are_kept():
    data = DIGIKAM.replace(b" <rdf:RDF", b" <!-- edited by hand --><?app keep?>\n <rdf:RDF")
    out = merged(data)
    assert b"<!-- edited by hand --><?app keep?>" in out


def test_a_packet_whose_root_is_rdf_gets_the_keyword_in_its_description():
    data = b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    with pytest.raises(XmpError):  # self-closed: nothing to find in the text
        xmp.parse(data)
    data = b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"></rdf:RDF>'
    assert items(merged(data), DC_SUBJECT) == ["cat"]
