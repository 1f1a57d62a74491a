"""Accounts: argon2 hashes, handles, roles."""

import pytest

from server.floor.accounts import Account, check_password, create_account
from server.floor.errors import Invalid


def test_create_and_check_password(session):
    account = create_account(session, "Ada@Example.org", password="correct horse", role="admin")
    session.commit()
    assert account.handle == "ada"
    assert account.password_hash.startswith("$argon2id$")
    assert check_password(account, "correct horse")
    assert not check_password(account, "wrong horse")
    assert session.get(Account, account.id).is_admin


def test_duplicate_and_bad_input_are_named(session):
    create_account(session, "ada@example.org", password="12345678")
    with pytest.raises(Invalid, match="exists already"):
        create_account(session, "ada@example.org")
    with pytest.raises(Invalid, match="exists already"):
        create_account(session, "ADA@example.org", handle="ada2")
    with pytest.raises(Invalid, match="email 'not-an-address'"):
        create_account(session, "not-an-address")
    with pytest.raises(Invalid, match="role"):
        create_account(session, "bob@example.org", role="emperor")
