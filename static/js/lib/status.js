// The status line under a map: a message that clears itself (errors stay longer).

export function statusLine(element, { okMs = 6000, errorMs = 15000 } = {}) {
  let timer = null;
  return function say(text, isError = false) {
    element.textContent = text;
    element.classList.toggle("error", isError);
    clearTimeout(timer);
    timer = setTimeout(() => { element.textContent = ""; }, isError ? errorMs : okMs);
  };
}
