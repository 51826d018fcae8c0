"""deploy/ holds files no container engine runs here, so these checks keep them honest: every manifest parses, every
CHATBOT__ variable names a real setting (and the values validate), every command is a real ``python -m chatbot``
command line, the ports and host names agree between services, the load balancer names the serve replicas, and the
state that lives in one replica (the page, /v1/chat sessions) is behind affinity while /v1/chat/completions is not."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from pydantic import BaseModel

from chatbot.config import PROJECT_ROOT, Settings, load_settings
from chatbot.config.settings import ENV_PREFIX
from chatbot.interfaces.cli import build_parser

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
CADDYFILE = DEPLOY / "Caddyfile"
K8S = sorted((DEPLOY / "k8s").glob("*.yaml"))
COMMANDS = {"serve", "llm-server", "ingest"}  # what a deployment runs of `python -m chatbot`
STATELESS = {"/v1/chat/completions", "/v1/models", "/healthz"}
DUMMY_SECRET = "k" * 32


# ---- reading the manifests -----------------------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def k8s_objects() -> list[dict[str, Any]]:
    return [doc for path in K8S for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def containers() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload object, container) for every Deployment, StatefulSet and Job."""
    found = []
    for obj in k8s_objects():
        if obj["kind"] in {"Deployment", "StatefulSet", "Job"}:
            found += [(obj, c) for c in obj["spec"]["template"]["spec"]["containers"]]
    return found


def k8s_env(container: dict[str, Any]) -> dict[str, str]:
    """Literal values as written; a secret reference becomes a stand-in key (the real one is made at install)."""
    return {e["name"]: e.get("value", DUMMY_SECRET) for e in container.get("env", [])}


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    """``${NAME:?message}`` (required at `up`) becomes a stand-in key, as a secret would."""
    env = service.get("environment") or {}
    return {k: DUMMY_SECRET if str(v).startswith("${") else str(v) for k, v in env.items()}


def every_command() -> list[tuple[str, list[str], dict[str, str]]]:
    """(where, command, environment) of every service and container."""
    found = [(f"compose {name}", svc["command"], compose_env(svc)) for name, svc in services().items()
             if "command" in svc]
    found += [(f"k8s {obj['metadata']['name']}", c["command"], k8s_env(c)) for obj, c in containers()]
    return found


def chatbot_args(command: list[str]) -> list[str] | None:
    """The arguments after ``python -m chatbot``, or None for another program."""
    return command[3:] if command[:3] == ["python", "-m", "chatbot"] else None


def flag(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def setting_exists(variable: str) -> bool:
    """Whether CHATBOT__SECTION__KEY resolves to a field of the settings model, section by section."""
    model: type[BaseModel] = Settings
    parts = variable[len(ENV_PREFIX):].lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        if i < len(parts) - 1:
            if not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
                return False
            model = field.annotation
    return True


def caddy_blocks() -> list[tuple[str, str]]:
    """(matcher, body) of each ``handle`` block of the Caddyfile, braces matched."""
    text = CADDYFILE.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"\bhandle(?:\s+(@\w+))?\s*\{", text):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        blocks.append((match.group(1) or "", text[match.end():i - 1]))
    return blocks


def caddy_upstreams(body: str) -> list[str]:
    match = re.search(r"reverse_proxy\s+([^{\n]+)\{", body)
    assert match, body
    return match.group(1).split()


# ---- the checks -----------------------------------------------------------------------------------------------------
def test_every_manifest_parses_and_there_are_some():
    assert COMPOSE.is_file() and CADDYFILE.is_file() and K8S
    assert services()
    kinds = {obj["kind"] for obj in k8s_objects()}
    assert {"Deployment", "StatefulSet", "Job", "Service", "Ingress"} <= kinds


def test_every_chatbot_variable_names_a_real_setting_and_the_values_validate():
    for where, _, env in every_command():
        ours = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
        unknown = [k for k in ours if not setting_exists(k)]
        assert not unknown, f"{where}: no such setting: {unknown}"
        load_settings(None, environ=ours)  # SettingsError when a value is wrong (an openai backend without a URL…)


@pytest.mark.parametrize("variable", ["CHATBOT__LLM__NOPE", "CHATBOT__LLM__BACKEND__X", "CHATBOT__NOPE"])
def test_the_setting_check_refuses_names_that_do_not_exist(variable):
    assert not setting_exists(variable)


def test_every_command_is_a_real_chatbot_command_line():
    for where, command, _ in every_command():
        args = chatbot_args(command)
        if args is None:
            assert command[:2] == ["chroma", "run"], f"{where}: unexpected program {command}"
            assert {"--path", "--host", "--port"} <= set(command), where
            continue
        try:
            parsed = build_parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"{where}: `python -m chatbot {' '.join(args)}` does not parse (see the usage above)")
        assert parsed.command in COMMANDS, f"{where}: {parsed.command}"


def test_a_service_on_all_interfaces_has_its_api_key_as_the_app_requires():
    for where, command, env in every_command():
        args = chatbot_args(command) or []
        if flag(args, "--host") not in (None, "127.0.0.1", "localhost"):
            needed = {"serve": "CHATBOT__SERVER__API_KEY", "llm-server": "CHATBOT__LLM__API_KEY"}[args[0]]
            assert env.get(needed), f"{where} listens on {flag(args, '--host')} without {needed}"
        if env.get("CHATBOT__LLM__BACKEND") == "openai":
            assert env.get("CHATBOT__LLM__API_KEY"), f"{where}: the llm-server requires its key"


def test_compose_ports_and_hosts_agree():
    svc = services()
    llm_port = flag(svc["llm"]["command"], "--port")
    chroma_port = flag(svc["chroma"]["command"], "--port")
    for name, service in svc.items():
        env = compose_env(service)
        if "CHATBOT__LLM__BASE_URL" in env:
            url = urlparse(env["CHATBOT__LLM__BASE_URL"])
            assert (url.hostname, str(url.port), url.path) == ("llm", llm_port, "/v1"), name
        if env.get("CHATBOT__VECTOR_STORE__BACKEND") == "chroma-http":
            assert env["CHATBOT__VECTOR_STORE__HOST"] == "chroma" and env["CHATBOT__VECTOR_STORE__PORT"] == chroma_port
        for text in service.get("healthcheck", {}).get("test", []):
            for port in re.findall(r"127\.0\.0\.1:(\d+)", text):
                assert port == flag(service["command"], "--port"), f"{name} checks the health of another port"
        for needed in service.get("depends_on", {}):
            assert needed in svc, f"{name} depends on unknown {needed}"


def serve_replicas() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services().items() if chatbot_args(s.get("command", [])) and s["command"][3] == "serve"}


def test_the_load_balancer_names_every_serve_replica_on_its_port():
    replicas = serve_replicas()
    assert len(replicas) >= 2
    wanted = {f"{name}:{flag(s['command'], '--port')}" for name, s in replicas.items()}
    blocks = caddy_blocks()
    assert blocks
    for _, body in blocks:
        assert set(caddy_upstreams(body)) == wanted
    lb = services()["lb"]
    assert any(v.endswith(":/etc/caddy/Caddyfile:ro") and v.startswith("./Caddyfile") for v in lb["volumes"])
    assert set(lb["depends_on"]) == set(replicas)
    assert all(p.startswith("127.0.0.1:") for p in lb["ports"]), "published on loopback only; put TLS in front"


def test_caddy_keeps_browser_and_session_routes_sticky_and_the_stateless_api_free():
    text = CADDYFILE.read_text(encoding="utf-8")
    matcher = re.search(r"@stateless\s+path\s+([^\n]+)", text)
    assert matcher and set(matcher.group(1).split()) == STATELESS
    blocks = dict(caddy_blocks())
    assert "lb_policy cookie" not in blocks["@stateless"]
    assert "lb_policy cookie" in blocks[""]  # the catch-all: the page, /v1/chat, /v1/triage


def test_forwarded_client_addresses_are_trusted_from_the_load_balancer_only():
    lb_ip = services()["lb"]["networks"]["back"]["ipv4_address"]
    for name, service in serve_replicas().items():
        assert service["environment"]["FORWARDED_ALLOW_IPS"] == lb_ip, name
        assert "ports" not in service, f"{name} must be reachable through the load balancer only"


def _k8s_by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in k8s_objects() if o["kind"] == kind}


def _selects(service: dict[str, Any], workload: dict[str, Any]) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


def test_k8s_ports_agree_between_commands_containers_services_and_urls():
    k8s_services = _k8s_by_kind("Service")
    for obj, container in containers():
        port = flag(container["command"], "--port")
        if port is None:
            continue  # the ingest job listens on nothing
        assert [str(p["containerPort"]) for p in container["ports"]] == [port]
        selecting = [s for s in k8s_services.values() if _selects(s, obj)]
        assert selecting, f"no Service selects {obj['metadata']['name']}"
        assert all(str(p["targetPort"]) == port for s in selecting for p in s["spec"]["ports"])
    ports = {name: {p["port"] for p in s["spec"]["ports"]} for name, s in k8s_services.items()}
    for obj, container in containers():
        env = k8s_env(container)
        if "CHATBOT__LLM__BASE_URL" in env:
            url = urlparse(env["CHATBOT__LLM__BASE_URL"])
            assert url.hostname in ports and url.port in ports[url.hostname], obj["metadata"]["name"]
        if env.get("CHATBOT__VECTOR_STORE__BACKEND") == "chroma-http":
            host, port = env["CHATBOT__VECTOR_STORE__HOST"], int(env["CHATBOT__VECTOR_STORE__PORT"])
            assert host in ports and port in ports[host], obj["metadata"]["name"]


def test_k8s_ingress_routes_to_the_serve_replicas_sticky_where_state_lives():
    serve = _k8s_by_kind("Deployment")["serve"]
    service = _k8s_by_kind("Service")["serve"]
    assert serve["spec"]["replicas"] >= 2 and _selects(service, serve)
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    sticky_paths, free_paths = set(), set()
    for ingress in _k8s_by_kind("Ingress").values():
        sticky = ingress["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/affinity") == "cookie"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] == "serve" and backend["port"]["number"] in {p["port"] for p in
                                                                                   service["spec"]["ports"]}
                (sticky_paths if sticky else free_paths).add(path["path"])
    assert "/" in sticky_paths  # the page and the session routes under it
    assert free_paths and free_paths <= STATELESS  # never /v1/chat or /v1/triage: their sessions live in one pod


def test_deploy_readme_covers_affinity_and_the_load_test():
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for needed in ("sticky", "/v1/chat/completions", "bench/load.py", "FORWARDED_ALLOW_IPS", "gr.BrowserState"):
        assert needed in text, needed
    assert Path(DEPLOY / "Dockerfile").is_file()
