"""Accounts: one upstream credential of one provider plus its routing state (accounts.md)."""
