"""Provider: an OpenAI-compatible chat-completions endpoint (vLLM, Ollama, DashScope compatible mode, OpenAI).

Uses the ``openai`` SDK, imported when the provider is built, so nothing else (the API server in particular)
needs it installed. One request per rewrite: no SDK retries (``max_retries=0``) so the time limit holds; the
SDK's ``timeout`` bounds connecting, sending and waiting for the (non-streamed) answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from videosynth.prompting.base import RewriteError, RewriteTimeoutError

if TYPE_CHECKING:
    import openai

# Wan's text encoder reads at most 512 of its own tokens; a longer rewrite would be cut anyway.
DEFAULT_MAX_TOKENS = 512
DEFAULT_TEMPERATURE = 0.7
# Sent when no key is configured: local servers (vLLM, Ollama) accept anything, and an explicit placeholder
# keeps the SDK from falling back to an OPENAI_API_KEY the operator did not mean for this endpoint.
NO_KEY = "EMPTY"


class OpenAICompatRewriter:
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout_s: float,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
    ) -> None:
        import openai

        self._errors = openai
        self._model = model
        self._timeout_s = timeout_s
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._client: openai.OpenAI = openai.OpenAI(
            base_url=base_url, api_key=api_key or NO_KEY, timeout=timeout_s, max_retries=0
        )

    @property
    def provider(self) -> str:
        return "openai"

    @property
    def model(self) -> str:
        return self._model

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    def rewrite(self, system_prompt: str, prompt: str) -> str:
        errors = self._errors
        try:
            response = self._client.chat.completions.create(
                model=self._model,
                messages=[
                    {"role": "system", "content": system_prompt},
                    {"role": "user", "content": prompt},
                ],
                temperature=self._temperature,
                max_tokens=self._max_tokens,
            )
        except errors.APITimeoutError:  # before APIConnectionError: it is a subclass
            raise RewriteTimeoutError() from None
        except errors.APIStatusError as error:
            raise RewriteError(f"HTTP {error.status_code}") from None
        except errors.APIConnectionError:
            raise RewriteError("connection failed") from None
        except errors.OpenAIError as error:
            raise RewriteError(type(error).__name__) from None
        except ValueError:  # a 200 whose body is not JSON
            raise RewriteError("malformed answer") from None
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list):  # e.g. an HTML error page with status 200
            raise RewriteError("malformed answer")
        # Lenient below that: compatible servers differ; a missing answer is an empty one.
        message = getattr(choices[0], "message", None) if choices else None
        content = getattr(message, "content", None)
        return content if isinstance(content, str) else ""

    def close(self) -> None:
        self._client.close()
