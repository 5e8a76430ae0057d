"""The PDF form of a report: its self-contained HTML (inline SVG charts) laid out by WeasyPrint.

WeasyPrint is optional (``pip install 'relayml[pdf]'``) and needs the pango library of the
system (Debian: libpango-1.0-0, libpangoft2-1.0-0). Nothing is fetched while rendering: the HTML
holds no external reference, and a URL fetcher that refuses every URL makes sure of it.
"""

from __future__ import annotations

from typing import Any, NoReturn

from relayml.errors import MissingDependency

__all__ = ["PRINT_CSS", "html_to_pdf"]

# Pages for paper: A4 with numbered pages; headings stay with what follows; a chart, a table row
# are not cut; table headers repeat on each page; the on-screen contents bar is left out.
PRINT_CSS = """
@page{size:A4;margin:16mm 14mm 18mm 14mm;
 @bottom-left{content:string(title);font:8pt sans-serif;color:#666}
 @bottom-right{content:"page " counter(page) " of " counter(pages);font:8pt sans-serif;color:#666}}
body{max-width:none;margin:0;padding:0;font-size:9.5pt}
h1{string-set:title content();font-size:16pt}
h2{break-after:avoid;font-size:12.5pt}
p{orphans:3;widows:3}
figure{break-inside:avoid;margin:.5em 0}
svg{max-width:100%;height:auto}
table{font-size:8pt;width:auto;max-width:100%}
thead{display:table-header-group}
tr,td,th{break-inside:avoid}
th{white-space:nowrap}td{overflow-wrap:break-word}
nav{display:none}
"""


def _refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"a report fetches nothing; refused {url}")


def html_to_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML document; MissingDependency without WeasyPrint/pango."""
    try:
        import weasyprint
    except ImportError as exc:
        raise MissingDependency.for_extra("weasyprint", "pdf", "A PDF report") from exc
    except OSError as exc:  # WeasyPrint is there but the system's pango is not
        raise MissingDependency(
            "A PDF report needs the pango library for WeasyPrint, which could not be loaded "
            f"({exc}). On Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0"
        ) from exc
    document = weasyprint.HTML(string=html, url_fetcher=_refuse)
    data: bytes = document.write_pdf(stylesheets=[weasyprint.CSS(string=PRINT_CSS)])
    return data
