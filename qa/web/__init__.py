"""The browser chat: the Gradio app over the QASystem and its safe HTML/Markdown rendering."""
