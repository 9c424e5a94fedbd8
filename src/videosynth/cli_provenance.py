"""`videosynth verify FILE` and `videosynth provenance dev-cert DIR`: check and try out C2PA provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from videosynth.media.provenance import AI_SOURCE_TYPE, Verification, verify_mp4

provenance_app = typer.Typer(help="C2PA provenance: a development certificate.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(verify)
    app.add_typer(provenance_app, name="provenance")


def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The mp4 to check.")],
    trust_anchors: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="PEM root certificate(s) the signer must chain to."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest and the verdict as JSON.")] = False,
) -> None:
    """Print a video's C2PA manifest and whether its signature and hard binding hold; exit 1 when they do not."""
    result = verify_mp4(file, trust_anchors.read_bytes() if trust_anchors else None)
    if as_json:
        typer.echo(json.dumps(_verdict(result), indent=2, ensure_ascii=False))
    else:
        typer.echo("\n".join(report_lines(file, result)))
    raise typer.Exit(0 if result.ok else 1)


def report_lines(file: Path, result: Verification) -> list[str]:
    lines = [f"file: {file}"]
    if result.manifest is None:
        return [*lines, f"manifest: none ({result.state}: {result.error})", "result: FAILED"]
    generator = ", ".join(f"{g.get('name')} {g.get('version', '')}".strip() for g in _generators(result))
    lines += [f"manifest: {result.manifest.get('label', 'present')}", f"claim generator: {generator}"]
    for action in result.actions:
        source = (
            "AI-generated (trainedAlgorithmicMedia)"
            if action.get("digitalSourceType") == AI_SOURCE_TYPE
            else (action.get("digitalSourceType", "not stated"))
        )
        model = action.get("parameters", {}).get("model", "not stated")
        lines.append(f"action: {action.get('action')}, {source}, model {model}, at {action.get('when', '?')}")
    trust = {None: "not checked (no --trust-anchors)", True: "chains to a trust anchor", False: "UNTRUSTED"}
    lines += [
        f"signature: {'valid' if result.signature_ok else 'INVALID'}",
        f"hard binding: {'matches the file' if result.binding_ok else 'DOES NOT MATCH the file'}",
        f"trust: {trust[result.trusted]}",
    ]
    failures = "; ".join(f"{f.code} ({f.explanation})" for f in result.failures)
    lines.append("result: OK" if result.ok else f"result: FAILED: {failures or result.state}")
    return lines


def _generators(result: Verification) -> list[dict[str, str]]:
    return list((result.manifest or {}).get("claim_generator_info", []))


def _verdict(result: Verification) -> dict[str, object]:
    return {
        "ok": result.ok,
        "state": result.state,
        "signature_ok": result.signature_ok,
        "binding_ok": result.binding_ok,
        "trusted": result.trusted,
        "failures": [{"code": f.code, "explanation": f.explanation} for f in result.failures],
        "error": result.error,
        "manifest": result.manifest,
    }


@provenance_app.command("dev-cert")
def dev_cert(directory: Annotated[Path, typer.Argument(help="Folder for chain.pem, signer.key and root.pem.")]) -> None:
    """Make a throwaway certificate chain to try signing with (trusted only by whoever is given its root.pem)."""
    from videosynth.media.dev_certs import make_dev_chain

    chain = make_dev_chain(directory)
    typer.echo(f"VIDEOSYNTH_C2PA_CERT={chain.cert_file}")
    typer.echo(f"VIDEOSYNTH_C2PA_KEY={chain.key_file}")
    typer.echo(f"# verify with: videosynth verify FILE --trust-anchors {chain.root_file}")
