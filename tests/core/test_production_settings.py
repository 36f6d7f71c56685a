"""config/settings/production.py: `manage.py check --deploy` is clean (secure cookies, HSTS,
HTTPS redirect), secrets come only from the environment, and the development key is refused."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_check(**env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


ESSENTIALS = {
    "ALLOWED_HOSTS": "billing.example.com",
    "DATABASE_URL": "postgres://ledgerline@db.example.com:5432/ledgerline",
    "CELERY_BROKER_URL": "redis://redis.example.com:6379/0",
}


def test_check_deploy_is_clean_with_the_production_settings():
    result = run_check(SECRET_KEY=secrets.token_urlsafe(64), **ESSENTIALS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_insecure_cookies_are_reported():
    result = run_check(
        SECRET_KEY=secrets.token_urlsafe(64), SESSION_COOKIE_SECURE="False", **ESSENTIALS
    )
    assert result.returncode != 0
    assert "security.W012" in result.stderr + result.stdout


def test_no_secret_key_no_start():
    result = run_check(**ESSENTIALS)
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_the_development_key_is_refused():
    result = run_check(SECRET_KEY="dev-insecure-ledgerline-key-change-me", **ESSENTIALS)
    assert result.returncode != 0
    assert "never the development one" in result.stderr
