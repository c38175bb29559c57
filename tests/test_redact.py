"""The one redaction helper (issue 15, fault 4)."""
import pytest

from mastune.redact import MASK, looks_like_env_name, redact, redact_url


@pytest.mark.parametrize("text,secret", [
    ("http://user:s3cr3t-value@host:8000/v1", "s3cr3t-value"),
    ("see https://:tok-abc-123@host/v1 now", "tok-abc-123"),
    ("https://host/v1?api_key=abc123xyz&x=1", "abc123xyz"),
    ("https://host/v1?x=1&token=abc123xyz", "abc123xyz"),
    ("header Authorization: Bearer abcdefgh12345678 sent", "abcdefgh12345678"),
    ("key sk-proj-AbCdEf0123456789xyz in body", "sk-proj-AbCdEf0123456789xyz"),
    ("token hf_AbCdEfGhIjKlMnOpQrSt", "hf_AbCdEfGhIjKlMnOpQrSt"),
])
def test_credentials_are_masked(text, secret):
    out = redact(text)
    assert secret not in out and MASK in out


def test_exact_secrets_and_what_stays():
    assert redact("echo: zq81-Private", secrets=["zq81-Private"]) == f"echo: {MASK}"
    assert redact("http://host:8000/v1 and user@host") == "http://host:8000/v1 and user@host"
    assert redact_url("http://u:p4ss@h/v1") == f"http://{MASK}@h/v1" and redact_url(None) is None
    assert redact("the answer is 42", secrets=["42", None]) == "the answer is 42"  # too short to mask


def test_env_names_versus_pasted_keys():
    assert looks_like_env_name("OPENAI_API_KEY") and looks_like_env_name("MY_KEY")
    for pasted in ("sk-proj-Abc123", "abcdef0123456789", "ABCDEF0123456789ABCDEF0123"):
        assert not looks_like_env_name(pasted)
