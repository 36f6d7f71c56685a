"""Reading the staff UI's pages in tests."""

import re


def field_error(page: str, field: str) -> str:
    """The error text shown next to the field `id_<field>`; checks that it is in the same field
    block as the input, and that the block is marked invalid."""
    found = re.search(rf'<span class="error" id="id_{field}_error">([^<]*)</span>', page)
    assert found, f"no error next to {field}"
    block = page[: found.start()].rsplit('class="field', 1)[1]  # a div or a table cell
    assert block.startswith(" invalid")
    assert f'id="id_{field}"' in block
    return found.group(1)
