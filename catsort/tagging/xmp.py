"""XMP packets: read safely, merge catsort's keyword in, and write them with every other field kept.

Only the root element (``x:xmpmeta``) is parsed and written again; the text around it (the
``<?xpacket?>`` wrapper and its padding) is kept as it is, and so are comments, processing
instructions, whitespace and the prefixes the file chose for its namespaces. The parser is
defusedxml's: a packet declaring a DTD or entities (a billion-laughs file) is refused before
anything is expanded.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

# Larger packets are refused unread (the sidecar module reads no more): real ones are kilobytes.
from catsort.tagging.sidecar import MAX_BYTES

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_LR = "http://ns.adobe.com/lightroom/1.0/"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_DIGIKAM = "http://www.digikam.org/ns/1.0/"
#: catsort's own namespace: what it wrote, so that a later run tells its keywords from the user's.
NS_CATSORT = "https://catsort.dev/ns/xmp/1.0/"

_USUAL_PREFIXES = {
    NS_X: "x",
    NS_RDF: "rdf",
    NS_DC: "dc",
    NS_LR: "lr",
    NS_DIGIKAM: "digiKam",
    NS_CATSORT: "catsort",
}

# The fields catsort keeps in its namespace, in the order they are written.
LABEL = "label"
CONFIDENCE = "confidence"
PET_SCORE = "petScore"
MODEL = "model"
DATE = "date"
SUBJECT = "addedSubject"  # the dc:subject keyword catsort added (absent: the user's came first)
HIERARCHY = "addedHierarchicalSubject"  # likewise for lr:hierarchicalSubject
TAGS_LIST = "addedTagsList"  # likewise for digiKam:TagsList, where a sidecar has one
FIELDS = (LABEL, CONFIDENCE, PET_SCORE, MODEL, DATE, SUBJECT, HIERARCHY, TAGS_LIST)

_PACKET_HEAD = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_TAIL = '\n<?xpacket end="w"?>\n'
_INDENT = " "

# What may come before the root element: a BOM, whitespace, processing instructions, comments.
_PROLOG = re.compile(r"(?:\ufeff|\s|<\?.*?\?>|<!--.*?-->)*", re.S)
_START_TAG = re.compile(r"<([^\s/>]+)")


class XmpError(ValueError):
    """A packet catsort cannot merge into (not XML, not XMP, hostile); the message says why."""


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass(frozen=True)
class Tag:
    """What catsort records for one photo: its keyword, where it sits in a hierarchy, and why."""

    label: str  # the dc:subject keyword: "cat"
    hierarchy: str  # the lr:hierarchicalSubject path: "Animals|Cat"
    confidence: float
    pet_score: float | None
    model: str  # the model's fingerprint
    date: str  # ISO 8601, when catsort decided


@dataclass
class Packet:
    """A parsed XMP packet: its root element, and the text before and after it, kept verbatim."""

    head: str
    root: ET.Element
    rdf: ET.Element
    tail: str
    prefixes: dict[str, str] = field(default_factory=dict)  # namespace -> the file's prefix


class _Builder(ET.TreeBuilder):
    """A tree builder that keeps comments and processing instructions and notes the prefixes."""

    def __init__(self) -> None:
        super().__init__(insert_comments=True, insert_pis=True)
        self.prefixes: dict[str, str] = {}

    def start_ns(self, prefix: str, uri: str) -> None:
        """Remember the first prefix a namespace is declared with (not the default one)."""
        if prefix and uri not in self.prefixes:
            self.prefixes[uri] = prefix


def parse(data: bytes) -> Packet:
    """Parse a sidecar's bytes; raise XmpError when they are not XMP catsort can merge into."""
    if len(data) > MAX_BYTES:
        raise XmpError(f"larger than {MAX_BYTES >> 20} MiB, not a sidecar")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise XmpError("not UTF-8 text") from None
    builder = _Builder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException:
        raise XmpError("declares a DTD or entities, which XMP never does; refused") from None
    except ET.ParseError as exc:
        raise XmpError(f"not well-formed XML ({exc})") from None
    if root.tag in (_q(NS_X, "xmpmeta"), _q(NS_X, "xapmeta")):
        rdf = root.find(_q(NS_RDF, "RDF"))
    elif root.tag == _q(NS_RDF, "RDF"):
        rdf = root
    else:
        raise XmpError(f"its root element is {root.tag}, not x:xmpmeta")
    if rdf is None:
        raise XmpError("no rdf:RDF element in x:xmpmeta")
    start = _PROLOG.match(text).end()  # type: ignore[union-attr]  # the pattern matches ""
    tag = _START_TAG.match(text, start)
    end = text.rfind(f"</{tag.group(1)}") if tag is not None else -1
    if tag is None or end < 0:
        raise XmpError("its root element cannot be found in the text")  # e.g. self-closed
    end = text.index(">", end) + 1
    packet = Packet(text[:start], root, rdf, text[end:], builder.prefixes)
    for name, namespace in (
        ("dc:subject", NS_DC),
        ("lr:hierarchicalSubject", NS_LR),
        ("digiKam:TagsList", NS_DIGIKAM),
    ):
        prop = _find(packet, namespace, name.split(":")[1])
        if prop is not None:
            _container(prop, name)  # raises for a keyword field that is not a list
    return packet


def new_packet() -> Packet:
    """An empty XMP packet, for a photo that has no sidecar yet."""
    root = ET.Element(_q(NS_X, "xmpmeta"), {_q(NS_X, "xmptk"): "catsort"})
    rdf = ET.SubElement(root, _q(NS_RDF, "RDF"))
    root.text, rdf.tail = "\n" + _INDENT, "\n"
    return Packet(_PACKET_HEAD, root, rdf, _PACKET_TAIL)


def keywords(packet: Packet) -> list[str]:
    """The packet's dc:subject keywords, in order."""
    return _items(packet, NS_DC, "subject")


def hierarchy(packet: Packet) -> list[str]:
    """The packet's lr:hierarchicalSubject paths (``Animals|Cat``), in order."""
    return _items(packet, NS_LR, "hierarchicalSubject")


def tags_list(packet: Packet) -> list[str]:
    """The packet's digiKam:TagsList paths (``Animals/Cat``), in order."""
    return _items(packet, NS_DIGIKAM, "TagsList")


def catsort_fields(packet: Packet) -> dict[str, str]:
    """What an earlier catsort run recorded in its own namespace (empty when none did)."""
    fields: dict[str, str] = {}
    for description in _descriptions(packet):
        for key, value in description.items():
            if key.startswith(f"{{{NS_CATSORT}}}"):
                fields[key.split("}", 1)[1]] = value
        for child in description:
            if isinstance(child.tag, str) and child.tag.startswith(f"{{{NS_CATSORT}}}"):
                fields[child.tag.split("}", 1)[1]] = child.text or ""
    return fields


def merge(packet: Packet, tag: Tag) -> bool:
    """Put ``tag`` into the packet, keeping everything else; return whether anything changed.

    Only the keywords catsort itself added (as recorded in its namespace) are ever removed: a
    changed label replaces them, while a keyword the user had before catsort stays. A keyword
    catsort added and the user removed since is not added back for the same label.
    """
    before = catsort_fields(packet)
    subject, changed = _merge_item(packet, NS_DC, "subject", tag.label, before.get(SUBJECT))
    path, changed_too = _merge_item(
        packet, NS_LR, "hierarchicalSubject", tag.hierarchy, before.get(HIERARCHY)
    )
    # digiKam (and Immich) read digiKam:TagsList before the other fields where it exists.
    tags_list, changed_also = None, False
    if _find(packet, NS_DIGIKAM, "TagsList") is not None:
        tags_list, changed_also = _merge_item(
            packet, NS_DIGIKAM, "TagsList", tag.hierarchy.replace("|", "/"), before.get(TAGS_LIST)
        )
    after = {
        LABEL: tag.label,
        CONFIDENCE: f"{tag.confidence:.4f}",
        PET_SCORE: None if tag.pet_score is None else f"{tag.pet_score:.4f}",
        MODEL: tag.model,
        DATE: tag.date,
        SUBJECT: subject,
        HIERARCHY: path,
        TAGS_LIST: tags_list,
    }
    fields = {key: value for key, value in after.items() if value is not None}
    same = _without_date(before) == _without_date(fields)
    if same and not (changed or changed_too or changed_also):
        return False  # the same decision again: leave the file (and its date) alone
    _set_fields(packet, fields)
    return True


def unmerge(packet: Packet) -> bool:
    """Take out the keywords catsort added, and its record of them (a person said the photo
    shows no pet); the user's own keywords stay. Return whether anything changed."""
    before = catsort_fields(packet)
    if not before:
        return False
    for namespace, name, recorded in (
        (NS_DC, "subject", SUBJECT),
        (NS_LR, "hierarchicalSubject", HIERARCHY),
        (NS_DIGIKAM, "TagsList", TAGS_LIST),
    ):
        prop, ours = _find(packet, namespace, name), before.get(recorded)
        if prop is None or ours is None:
            continue
        container = _container(prop, name)
        for item in container.findall(_q(NS_RDF, "li")):
            if (item.text or "") == ours:
                _remove(container, item)
                break
    _set_fields(packet, {})
    return True


def serialize(packet: Packet) -> bytes:
    """The packet's bytes: the kept text around the root element, and the root written again."""
    # Written by hand rather than by ElementTree.tostring, which would rename every prefix it
    # was not told of globally (digiKam: to ns0:) and move declarations around.
    names = _Names(packet.prefixes)
    tag = names.qname(packet.root.tag)
    attributes = _attributes(packet.root, names)
    inner: list[str] = [_text(packet.root.text)]
    for child in packet.root:
        _write(child, inner, names)
    declarations = "".join(
        f' xmlns:{prefix}="{_attribute(uri)}"' for uri, prefix in names.used.items()
    )
    xml = f"<{tag}{declarations}{attributes}>{''.join(inner)}</{tag}>"
    return (packet.head + xml + packet.tail).encode("utf-8")


# --- reading and changing the RDF ------------------------------------------------------------


def _descriptions(packet: Packet) -> list[ET.Element]:
    return packet.rdf.findall(_q(NS_RDF, "Description"))


def _find(packet: Packet, namespace: str, name: str) -> ET.Element | None:
    for description in _descriptions(packet):
        prop = description.find(_q(namespace, name))
        if prop is not None:
            return prop
    return None


def _container(prop: ET.Element, name: str) -> ET.Element:
    for kind in ("Bag", "Seq", "Alt"):
        container = prop.find(_q(NS_RDF, kind))
        if container is not None:
            return container
    raise XmpError(f"{name} is not a list (no rdf:Bag in it)")


def _items(packet: Packet, namespace: str, name: str) -> list[str]:
    prop = _find(packet, namespace, name)
    if prop is None:
        return []
    container = _container(prop, name)
    return [item.text or "" for item in container.findall(_q(NS_RDF, "li"))]


def _merge_item(
    packet: Packet, namespace: str, name: str, value: str, ours: str | None
) -> tuple[str | None, bool]:
    """Add ``value`` to a keyword list, replacing catsort's own earlier one.

    Returns the item catsort now counts as its own (None: the user's was there first) and
    whether the list changed.
    """
    prop = _find(packet, namespace, name)
    container = None if prop is None else _container(prop, name)
    items = [] if container is None else container.findall(_q(NS_RDF, "li"))
    changed = False
    if ours is not None and ours != value and container is not None:
        for item in items:
            if (item.text or "") == ours:
                _remove(container, item)
                items.remove(item)
                changed = True
                break
    if any((item.text or "") == value for item in items):
        return (value if ours == value else None), changed
    if ours == value:
        return value, changed  # catsort added it once and the user took it out: leave it out
    if container is None:
        description = _description(packet)
        prop = ET.Element(_q(namespace, name))
        _append(description, prop, _depth(packet) + 1)
        container = ET.Element(_q(NS_RDF, "Bag"))
        _append(prop, container, _depth(packet) + 2)
    item = ET.Element(_q(NS_RDF, "li"))
    item.text = value
    _append(container, item, _depth(packet) + 3)
    return value, True


def _set_fields(packet: Packet, fields: Mapping[str, str]) -> None:
    """Replace catsort's fields, wherever they were, by these, in the keywords' description."""
    for description in _descriptions(packet):
        for key in [key for key in description.attrib if key.startswith(f"{{{NS_CATSORT}}}")]:
            del description.attrib[key]
        for child in list(description):
            if isinstance(child.tag, str) and child.tag.startswith(f"{{{NS_CATSORT}}}"):
                _remove(description, child)
    target = _description(packet)
    for name in FIELDS:
        if name in fields:
            element = ET.Element(_q(NS_CATSORT, name))
            element.text = fields[name]
            _append(target, element, _depth(packet) + 1)


def _description(packet: Packet) -> ET.Element:
    """The rdf:Description holding dc:subject, else the first one, else a new one."""
    descriptions = _descriptions(packet)
    for description in descriptions:
        if description.find(_q(NS_DC, "subject")) is not None:
            return description
    if descriptions:
        return descriptions[0]
    description = ET.Element(_q(NS_RDF, "Description"), {_q(NS_RDF, "about"): ""})
    _append(packet.rdf, description, _depth(packet))
    return description


def _depth(packet: Packet) -> int:
    """How deep rdf:Description elements sit: 2 under x:xmpmeta, 1 when rdf:RDF is the root."""
    return 1 if packet.rdf is packet.root else 2


def _without_date(fields: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in fields.items() if key != DATE}


def _append(parent: ET.Element, child: ET.Element, depth: int) -> None:
    """Append ``child`` at ``depth``, indented like its siblings, so the file stays readable."""
    inside, after = "\n" + _INDENT * depth, "\n" + _INDENT * (depth - 1)
    if len(parent):
        last = parent[-1]
        child.tail = last.tail
        last.tail = (parent[-2].tail if len(parent) > 1 else parent.text) or inside
    else:
        if not (parent.text or "").strip():
            parent.text = inside
        child.tail = after
    parent.append(child)


def _remove(parent: ET.Element, child: ET.Element) -> None:
    """Remove ``child``, handing its tail to the sibling before it so the layout holds."""
    index = list(parent).index(child)
    if index == len(parent) - 1 and index > 0:
        parent[index - 1].tail = child.tail
    parent.remove(child)


# --- writing ---------------------------------------------------------------------------------


class _Names:
    """Qualified names for the writer: the file's own prefixes first, then the usual ones."""

    def __init__(self, declared: Mapping[str, str]) -> None:
        self._declared = declared
        self.used: dict[str, str] = {}  # namespace -> prefix, in the order first met

    def qname(self, name: str) -> str:
        """``prefix:local`` for ``{namespace}local``."""
        if not name.startswith("{"):
            return name
        namespace, local = name[1:].split("}", 1)
        if namespace == NS_XML:
            return f"xml:{local}"
        prefix = self.used.get(namespace)
        if prefix is None:
            wanted = self._declared.get(namespace) or _USUAL_PREFIXES.get(namespace) or "ns"
            prefix, n = wanted, 0
            while prefix in self.used.values() or prefix.lower().startswith("xml"):
                n += 1
                prefix = f"{wanted}{n}"
            self.used[namespace] = prefix
        return f"{prefix}:{local}"


def _write(element: ET.Element, out: list[str], names: _Names) -> None:
    if element.tag is ET.Comment:
        out.append(f"<!--{element.text or ''}-->")
    elif element.tag is ET.ProcessingInstruction:
        out.append(f"<?{element.text or ''}?>")
    else:
        tag = names.qname(element.tag)
        attributes = _attributes(element, names)
        if element.text is None and not len(element):
            out.append(f"<{tag}{attributes}/>")
        else:
            out.append(f"<{tag}{attributes}>{_text(element.text)}")
            for child in element:
                _write(child, out, names)
            out.append(f"</{tag}>")
    out.append(_text(element.tail))


def _attributes(element: ET.Element, names: _Names) -> str:
    return "".join(f' {names.qname(key)}="{_attribute(value)}"' for key, value in element.items())


def _text(text: str | None) -> str:
    return _escape(text) if text else ""


def _attribute(value: str) -> str:
    return _escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _escape(text: str, entities: dict[str, str] | None = None) -> str:
    # Imported when a sidecar is written: xml.sax.saxutils imports urllib.request, and with it
    # http, email and ssl, a tenth of a second of every classify run's start-up that tags nothing.
    from xml.sax.saxutils import escape

    return escape(text, entities or {})
