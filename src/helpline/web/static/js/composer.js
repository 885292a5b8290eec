// The message box: Enter sends, Shift+Enter adds a line, typing notices (throttled), and file
// sending (file picker, a file dropped on the conversation or pasted into it → confirm dialog
// with name and size → progress → done). Console, portal and widget all use this one class.

import { formatNumber, t, tn } from "./i18n.js";
import { upload } from "./api.js";
import { $, autoGrow, formatSize, openDialog, showFormError } from "./ui.js";

const TYPING_REFRESH_MS = 3000;
const TYPING_IDLE_MS = 4000;

export class Composer {
  /**
   * root: element containing the composer markup (from _composer.html).
   * opts: onSend(text) -> boolean (false keeps the text), onTyping(active),
   *       uploadPath() -> "/chats/{id}/files" or null, onUploaded(event), onInput(text).
   */
  constructor(root, opts) {
    this.root = root;
    this.opts = opts;
    this.form = $('[data-role="composer"]', root);
    this.input = $('[data-testid="message-input"]', root);
    this.send = $('[data-testid="send-message"]', root);
    this.file = $('[data-testid="attach-file"]', root);
    this.uploadRow = $('[data-role="upload"]', root);
    this.dialog = document.getElementById("upload-dialog");
    this.typingActive = false;
    this.typingSentAt = 0;
    this.typingTimer = null;
    this.pendingFile = null;
    this.fit = autoGrow(this.input);
    this.id = Math.random().toString(36).slice(2);

    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => {
      this.noteTyping();
      if (this.opts.onInput) this.opts.onInput(this.input.value);
    });
    this.input.addEventListener("blur", () => this.stopTyping());
    this.file.addEventListener("change", () => this.pickFile());
    this.wireDropAndPaste();
    if (this.dialog) {
      const form = this.dialog.querySelector("form");
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (this.dialog.dataset.owner !== this.id) return;
        this.confirmUpload();
      });
      this.dialog.addEventListener("close", () => {
        if (this.dialog.dataset.owner === this.id && this.dialog.returnValue !== "confirm") {
          this.pendingFile = null;
          this.file.value = "";
        }
      });
    }
  }

  get value() {
    return this.input.value;
  }

  set value(text) {
    this.input.value = text || "";
    this.fit();
  }

  focus() {
    this.input.focus();
  }

  setEnabled(enabled) {
    this.input.disabled = !enabled;
    this.send.disabled = !enabled;
    this.file.disabled = !enabled;
  }

  submit() {
    const text = this.input.value.trim();
    if (!text || this.input.disabled) return;
    const keep = this.opts.onSend(text) === false;
    if (!keep) {
      this.value = "";
      if (this.opts.onInput) this.opts.onInput("");
    }
    this.stopTyping();
  }

  noteTyping() {
    const hasText = this.input.value.trim().length > 0;
    if (!hasText) {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    if (!this.typingActive || now - this.typingSentAt > TYPING_REFRESH_MS) {
      this.typingActive = true;
      this.typingSentAt = now;
      this.opts.onTyping(true);
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (!this.typingActive) return;
    this.typingActive = false;
    this.opts.onTyping(false);
  }

  // ------------------------------------------------------------ files

  pickFile() {
    this.offerFile(this.file.files && this.file.files[0]);
  }

  /** Files dragged onto the conversation (the whole root) or pasted into it. */
  wireDropAndPaste() {
    const zone = this.root;
    let depth = 0; // dragenter/dragleave fire for every child crossed
    const hasFiles = (e) => Boolean(e.dataTransfer) && Array.from(e.dataTransfer.types || []).includes("Files");
    const setActive = (on) => zone.classList.toggle("drop-target--active", on);
    zone.addEventListener("dragenter", (e) => {
      if (!hasFiles(e) || this.file.disabled) return;
      e.preventDefault();
      depth += 1;
      setActive(true);
    });
    zone.addEventListener("dragover", (e) => {
      if (!hasFiles(e)) return;
      // Always claimed: a file dropped here must never make the browser leave the chat.
      e.preventDefault();
      e.dataTransfer.dropEffect = this.file.disabled ? "none" : "copy";
    });
    zone.addEventListener("dragleave", (e) => {
      if (!hasFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setActive(false);
    });
    zone.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setActive(false);
      if (!this.file.disabled) this.offerFile(e.dataTransfer.files[0]);
    });
    zone.addEventListener("paste", (e) => {
      const files = e.clipboardData ? Array.from(e.clipboardData.files || []) : [];
      if (!files.length || this.file.disabled) return; // text pastes as usual
      e.preventDefault();
      this.offerFile(files[0]);
    });
  }

  /** The confirm dialog for one file, however it came (picker, drop, paste). */
  offerFile(file) {
    if (!file || !this.dialog) return;
    this.pendingFile = file;
    this.dialog.dataset.owner = this.id;
    this.dialog.returnValue = "";
    $('[data-role="upload-file-name"]', this.dialog).textContent = file.name;
    $('[data-role="upload-file-size"]', this.dialog).textContent =
      file.size >= 1024 ? `${formatSize(file.size)} (${t("{count} bytes", { count: formatNumber(file.size) })})` : formatSize(file.size);
    openDialog(this.dialog);
    $('[data-testid="confirm-upload"]', this.dialog).focus();
  }

  confirmUpload() {
    const file = this.pendingFile;
    const path = this.opts.uploadPath();
    if (!file || !path) {
      showFormError(this.dialog.querySelector("form"), { message: t("This chat can't receive files right now.") });
      return;
    }
    this.dialog.close("confirm");
    this.pendingFile = null;
    this.file.value = "";
    this.startUpload(path, file);
  }

  startUpload(path, file) {
    const row = this.uploadRow;
    const bar = $("progress", row);
    const pct = $('[data-role="upload-pct"]', row);
    clearTimeout(this.uploadHide);
    row.hidden = false;
    row.classList.remove("upload--error");
    $('[data-role="upload-name"]', row).textContent = file.name;
    bar.value = 0;
    bar.hidden = false;
    pct.textContent = "0%";
    const { promise } = upload(path, file, (fraction) => {
      const p = Math.round(fraction * 100);
      bar.value = p;
      pct.textContent = `${p}%`;
    });
    promise.then(
      (event) => {
        bar.value = 100;
        pct.textContent = t("Sent");
        if (this.opts.onUploaded && event) this.opts.onUploaded(event);
        this.uploadHide = setTimeout(() => {
          row.hidden = true;
        }, 4000);
      },
      (err) => {
        row.classList.add("upload--error");
        bar.hidden = true;
        pct.textContent = t("Not sent: {reason}", { reason: err.message });
        this.uploadHide = setTimeout(() => {
          row.hidden = true;
        }, 10000);
      },
    );
  }
}
