// The message box: Enter sends, Shift+Enter adds a line, typing notices (throttled), and file
// sending (files picked, dropped on the conversation or pasted into it → one confirm dialog
// listing each file's name and size → each sent in turn with its progress → done; a file the
// server refuses says why and the others still go). Console, portal and widget all use this
// one class.

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
    this.pendingFiles = [];
    this.uploading = Promise.resolve();
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
          this.pendingFiles = [];
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
    this.offerFiles(Array.from(this.file.files || []));
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
      if (!this.file.disabled) this.offerFiles(Array.from(e.dataTransfer.files || []));
    });
    zone.addEventListener("paste", (e) => {
      const files = e.clipboardData ? Array.from(e.clipboardData.files || []) : [];
      if (!files.length || this.file.disabled) return; // text pastes as usual
      e.preventDefault();
      this.offerFiles(files);
    });
  }

  /** The confirm dialog for the files, however they came (picker, drop, paste): each file's
   * name and size, one answer for all of them. */
  offerFiles(files) {
    files = files.filter(Boolean);
    if (!files.length || !this.dialog) return;
    this.pendingFiles = files;
    this.dialog.dataset.owner = this.id;
    this.dialog.returnValue = "";
    const n = files.length;
    $("#upload-title", this.dialog).textContent = tn("Send this file?", "Send these {count} files?", n, { count: formatNumber(n) });
    $('[data-testid="confirm-upload"]', this.dialog).textContent = tn("Send file", "Send {count} files", n, { count: formatNumber(n) });
    const list = $('[data-role="upload-files"]', this.dialog);
    const row = $('[data-role="upload-file"]', this.dialog).content.firstElementChild;
    list.replaceChildren(
      ...files.map((file) => {
        const item = row.cloneNode(true);
        $('[data-role="upload-file-name"]', item).textContent = file.name;
        $('[data-role="upload-file-size"]', item).textContent =
          file.size >= 1024 ? `${formatSize(file.size)} (${tn("{count} byte", "{count} bytes", file.size)})` : formatSize(file.size);
        return item;
      }),
    );
    showFormError(this.dialog.querySelector("form"), null);
    openDialog(this.dialog);
    $('[data-testid="confirm-upload"]', this.dialog).focus();
  }

  confirmUpload() {
    const files = this.pendingFiles;
    const path = this.opts.uploadPath();
    if (!files.length || !path) {
      showFormError(this.dialog.querySelector("form"), { message: t("This chat can't receive files right now.") });
      return;
    }
    this.dialog.close("confirm");
    this.pendingFiles = [];
    this.file.value = "";
    // One after another (after any still going), each with its own progress.
    const batch = files.map((file, i) => ({ file, index: i + 1, total: files.length }));
    this.uploading = this.uploading.then(async () => {
      const failed = [];
      for (const item of batch) {
        const err = await this.startUpload(path, item);
        if (err) failed.push({ name: item.file.name, reason: err.message });
      }
      this.finishUploads(failed, batch.length);
    });
  }

  /** Send one file, showing its progress; resolves to null when sent, else the error. */
  startUpload(path, { file, index, total }) {
    const row = this.uploadRow;
    const bar = $("progress", row);
    const pct = $('[data-role="upload-pct"]', row);
    clearTimeout(this.uploadHide);
    row.hidden = false;
    row.classList.remove("upload--error");
    $('[data-role="upload-name"]', row).textContent =
      total > 1 ? t("{file} ({index} of {total})", { file: file.name, index: formatNumber(index), total: formatNumber(total) }) : file.name;
    bar.value = 0;
    bar.hidden = false;
    pct.textContent = formatNumber(0, { style: "percent" });
    const { promise } = upload(path, file, (fraction) => {
      const p = Math.round(fraction * 100);
      bar.value = p;
      pct.textContent = formatNumber(p / 100, { style: "percent" });
    });
    return promise.then(
      (event) => {
        bar.value = 100;
        pct.textContent = t("Sent");
        if (this.opts.onUploaded && event) this.opts.onUploaded(event);
        return null;
      },
      (err) => err,
    );
  }

  /** After the last file: "Sent" for a while, or what was not sent and why. */
  finishUploads(failed, total) {
    const row = this.uploadRow;
    if (!failed.length) {
      this.uploadHide = setTimeout(() => {
        row.hidden = true;
      }, 4000);
      return;
    }
    row.classList.add("upload--error");
    $("progress", row).hidden = true;
    $('[data-role="upload-name"]', row).textContent = total > 1 ? failed.map((f) => f.name).join(", ") : failed[0].name;
    $('[data-role="upload-pct"]', row).textContent =
      total > 1
        ? t("Not sent: {reason}", { reason: failed.map((f) => `${f.name}: ${f.reason}`).join("; ") })
        : t("Not sent: {reason}", { reason: failed[0].reason });
    this.uploadHide = setTimeout(() => {
      row.hidden = true;
    }, 10000);
  }
}
