import pytest

from helpline.kit.origins import is_own_origin

PUBLIC = "https://help.example.com"


@pytest.mark.parametrize(
    ("origin", "scheme", "host", "own"),
    [
        ("https://help.example.com", "http", "10.0.0.5:8000", True),  # behind a TLS proxy
        ("https://help.example.com/", "wss", None, True),
        ("http://127.0.0.1:8000", "http", "127.0.0.1:8000", True),
        ("https://127.0.0.1:8000", "ws", "127.0.0.1:8000", False),
        ("https://shop.example", "https", "help.example.com", False),
        (None, "https", "help.example.com", False),
        ("", "https", "help.example.com", False),
    ],
)
def test_own_origin(origin: str | None, scheme: str, host: str | None, own: bool) -> None:
    assert is_own_origin(origin, public_url=PUBLIC, scheme=scheme, host=host) is own
