"""Interfaces (terminal, browser, HTTP API): validate, call the conversation engine, render. No medical logic."""
